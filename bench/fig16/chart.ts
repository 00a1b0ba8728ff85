// Figure 16's cumulative distributions as a chart: a vega-lite spec compiled to vega, rendered to SVG by vega's
// headless view and to PNG by resvg, with no browser involved. vega, vega-lite and resvg are ES modules, so they
// are loaded with import() from this CommonJS build.

/** One point of a CDF: `percent` of the trials had a leader within `ms`. */
export interface CdfPoint {
  line: string;
  variant: string;
  ms: number;
  percent: number;
}

/** How one half of the figure is drawn. */
export interface ChartSpec {
  title: string;
  points: CdfPoint[];
  /** The order of the lines in the legend. */
  lines: string[];
  /** The order of the panels, one per variant. */
  variants: string[];
  xScale: 'log' | 'linear';
  xDomain: [number, number];
}

/** The chart as SVG text and as PNG bytes. */
export async function renderChart(spec: ChartSpec): Promise<{ svg: string; png: Buffer }> {
  const vegaLite = await import('vega-lite');
  const vega = await import('vega');
  const { Resvg } = await import('@resvg/resvg-js');
  const font = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
  const compiled = vegaLite.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: spec.title, font, fontSize: 14 },
    data: { values: spec.points.filter((p) => p.ms >= spec.xDomain[0] && p.ms <= spec.xDomain[1]) },
    facet: { column: { field: 'variant', type: 'nominal', sort: spec.variants, title: null, header: { labelFont: font, labelFontSize: 12 } } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5, clip: true },
      encoding: {
        x: {
          field: 'ms',
          type: 'quantitative',
          title: 'time without leader (ms)',
          scale: { type: spec.xScale, domain: spec.xDomain, nice: false },
          axis: { labelFont: font, titleFont: font },
        },
        y: {
          field: 'percent',
          type: 'quantitative',
          title: 'cumulative percent',
          scale: { domain: [0, 100] },
          axis: { labelFont: font, titleFont: font },
        },
        color: {
          field: 'line',
          type: 'nominal',
          sort: spec.lines,
          title: 'election timeout',
          legend: { labelFont: font, titleFont: font },
        },
      },
    },
    config: { background: 'white', font },
  });
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = Buffer.from(new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng());
  return { svg, png };
}
