/**
 * Small line charts drawn as SVG elements (no library, no markup strings): the admin console's
 * message rates and connection counts.
 */

const SVG = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

export interface ChartOptions {
  width?: number;
  height?: number;
  /** What the chart shows, for screen readers. */
  label: string;
}

/** A line through `values` (oldest first), scaled from 0 to their maximum. */
export function lineChart(values: readonly number[], options: ChartOptions): SVGSVGElement {
  const width = options.width ?? 240;
  const height = options.height ?? 48;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": options.label,
    class: "chart",
  });
  chart.append(
    svg("line", { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: "axis" }),
  );
  if (values.length === 0) return chart;
  const top = Math.max(...values, 1e-9);
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const points = values.map((value, index) => {
    const y = height - 2 - (Math.max(0, value) / top) * (height - 4);
    return `${(index * step).toFixed(1)},${y.toFixed(1)}`;
  });
  if (values.length === 1) points.push(`${width},${points[0]?.split(",")[1] ?? height}`);
  chart.append(svg("polyline", { points: points.join(" "), class: "line" }));
  return chart;
}
