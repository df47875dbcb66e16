/**
 * The console's panels, drawn from the API's answers with text nodes only (dom.ts): what a
 * user put in a name or a message is shown, never interpreted.
 */
import { lineChart } from "../chart.ts";
import { ago, fill, h } from "../dom.ts";
import type { Series } from "../series.ts";
import type { Health, OnlineUsers, UserDetails } from "./gateway-api.ts";

export function renderUsers(
  body: HTMLTableSectionElement,
  online: OnlineUsers,
  groupsOf: (userId: string) => string[] | undefined,
  selected: string | null,
): void {
  if (online.users.length === 0) {
    fill(body, h("tr", {}, h("td", { colspan: 3, class: "muted" }, "nobody is online")));
    return;
  }
  fill(
    body,
    ...online.users.map((user) => {
      const groups = groupsOf(user.user_id);
      return h(
        "tr",
        { "data-user": user.user_id, class: user.user_id === selected ? "selected" : false },
        h(
          "td",
          {},
          h("button", { type: "button", class: "link", "data-pick": user.user_id }, user.user_id),
        ),
        h("td", { class: "count" }, user.connection_count),
        h("td", {}, groups === undefined ? "" : groups.length === 0 ? "–" : groups.join(", ")),
      );
    }),
  );
}

export function renderUser(panel: HTMLElement, user: UserDetails): void {
  const facts: [string, string | number][] = [
    ["username", user.username ?? "(unknown)"],
    ["online", user.is_online ? "yes" : "no"],
    ["connections", user.connection_count],
    ["last seen", user.is_online ? "now" : ago(user.last_seen)],
    ["groups", user.groups.length === 0 ? "–" : user.groups.join(", ")],
    [
      "mailbox",
      `${user.mailbox.messages} stored (${user.mailbox.notifications} notifications), last seq ${user.mailbox.last_seq}`,
    ],
  ];
  fill(
    panel,
    h(
      "dl",
      { class: "facts" },
      ...facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
    ),
    h(
      "table",
      { class: "sockets" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "socket"),
          h("th", {}, "kind"),
          h("th", {}, "opened"),
          h("th", {}, "groups"),
        ),
      ),
      h(
        "tbody",
        {},
        ...(user.sockets.length === 0
          ? [h("tr", {}, h("td", { colspan: 4, class: "muted" }, "no open socket"))]
          : user.sockets.map((socket) =>
              h(
                "tr",
                {},
                h("td", { class: "mono" }, socket.connection_id),
                h("td", {}, socket.kind),
                h("td", {}, socket.connected_at === null ? "–" : ago(socket.connected_at)),
                h("td", {}, socket.groups.join(", ") || "–"),
              ),
            )),
      ),
    ),
  );
}

export function renderHealth(list: HTMLElement, health: Health, lag: Map<string, number>): void {
  const rows: [string, string, string][] = [["status", health.status, health.status]];
  for (const mirror of ["redis", "postgres", "webhook"] as const) {
    const state = health[mirror];
    if (state === undefined) continue;
    const behind = health.behind?.[mirror];
    const seconds = lag.get(mirror);
    const detail = [
      behind
        ? `${behind.users} users behind, oldest ${(behind.oldest_change_age_ms / 1000).toFixed(1)} s`
        : "",
      seconds === undefined ? "" : `lag ${seconds.toFixed(2)} s`,
    ].filter(Boolean);
    rows.push([mirror, detail.length > 0 ? `${state} (${detail.join(", ")})` : state, state]);
  }
  if (health.dead_letters) rows.push(["dead letters", String(health.dead_letters), "behind"]);
  fill(
    list,
    ...rows.flatMap(([term, text, state]) => [
      h("dt", {}, term),
      h("dd", { "data-state": state, "data-mirror": term }, text),
    ]),
  );
}

export interface ChartRow {
  label: string;
  unit: string;
  series: Series;
}

export function renderCharts(box: HTMLElement, rows: readonly ChartRow[]): void {
  fill(
    box,
    ...rows.map((row) =>
      h(
        "div",
        { class: "rate", "data-chart": row.label },
        h("span", { class: "rate-label" }, row.label),
        h(
          "span",
          { class: "rate-value" },
          row.series.last === undefined ? "–" : `${formatNumber(row.series.last)} ${row.unit}`,
        ),
        lineChart(row.series.values, {
          label: `${row.label}, last ${row.series.values.length} samples`,
        }),
      ),
    ),
  );
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1);
}
