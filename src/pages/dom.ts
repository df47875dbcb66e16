/**
 * Building DOM for the served pages (the demo page, the admin console) without HTML strings:
 * every value becomes a text node or an attribute set by name, so a user name or a message
 * that contains markup is shown as the characters it is. Nothing in src/pages parses a
 * string as HTML (test/unit/pages.test.ts checks).
 */

export type Child = Node | string | number | null | undefined | false;

export type Attributes = Record<string, string | number | boolean | null | undefined>;

/** An element with attributes (`false`/null/undefined left out, `true` as an empty value). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...nodes(children));
  return element;
}

/** Replace an element's children. */
export function fill(element: Element, ...children: Child[]): void {
  element.replaceChildren(...nodes(children));
}

function nodes(children: Child[]): Node[] {
  return children.flatMap((child) => {
    if (child === null || child === undefined || child === false) return [];
    return [typeof child === "object" ? child : document.createTextNode(String(child))];
  });
}

/** The element with this id, of the expected class; throws when the page lacks it. */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`page: #${id} is missing`);
  return element;
}

/** A form's named field's trimmed value. */
export function field(form: HTMLFormElement, name: string): string {
  const input = form.elements.namedItem(name);
  if (input instanceof HTMLInputElement || input instanceof HTMLTextAreaElement) {
    return input.value.trim();
  }
  if (input instanceof HTMLSelectElement) return input.value;
  throw new Error(`page: form field ${name} is missing`);
}

/** "3 s ago", "5 min ago"… for an ISO time; "never" for null. */
export function ago(iso: string | null, now = Date.now()): string {
  if (iso === null) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}
