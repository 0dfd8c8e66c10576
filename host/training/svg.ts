// What the SVG plots (the LR finder's curve, plotHistory) share: the page, the axes of a plot
// area, and labels kept inside it.

// A plot area in page coordinates: x, y of its top-left corner, width and height.
export interface PlotArea {
  x: number;
  y: number;
  w: number;
  h: number;
}

// Rough width of a label at font-size 12 (sans-serif averages about 0.6 em per character).
const CHAR_WIDTH = 7;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// A standalone SVG page: white background, a title centred at the top, then the body.
export function svgPage(width: number, height: number, title: string, body: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="${width}" height="${height}" fill="white"/>
<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>
${body.join('\n')}
</svg>
`;
}

// The left and bottom axes of an area, the x label below it and the y label rotated at `yLabelX`.
export function axes(a: PlotArea, xLabel: string, yLabel: string, yLabelX: number): string {
  const bottom = a.y + a.h, middle = a.y + a.h / 2;
  return `<line x1="${a.x}" y1="${bottom}" x2="${a.x + a.w}" y2="${bottom}" stroke="black"/><line x1="${a.x}" y1="${a.y}" x2="${a.x}" y2="${bottom}" stroke="black"/>
<text x="${a.x + a.w / 2}" y="${bottom + 38}" text-anchor="middle">${escapeXml(xLabel)}</text>
<text x="${yLabelX}" y="${middle}" text-anchor="middle" transform="rotate(-90 ${yLabelX} ${middle})">${escapeXml(yLabel)}</text>`;
}

// A label beside the vertical line at x: to its right, or to its left when it would run past the
// area's right edge.
export function labelBeside(a: PlotArea, x: number, y: number, text: string, color: string): string {
  const fitsRight = x + 4 + text.length * CHAR_WIDTH <= a.x + a.w;
  return `<text x="${(fitsRight ? x + 4 : x - 4).toFixed(1)}" y="${y}" text-anchor="${fitsRight ? 'start' : 'end'}" fill="${color}">${escapeXml(text)}</text>`;
}
