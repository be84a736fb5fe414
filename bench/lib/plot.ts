import { writeFile } from 'node:fs/promises'
import { Resvg } from '@resvg/resvg-js'
import { parse, View } from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

/** One line chart per series over the same time axis, stacked: a Vega-Lite spec rendered to SVG by Vega, then to PNG by resvg. */
export async function plotSeries(
  file: string,
  title: string,
  rows: Record<string, number>[],
  x: { field: string; title: string },
  series: { field: string; title: string }[],
): Promise<void> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    vconcat: series.map((s) => ({
      width: 720,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: x.field, type: 'quantitative', title: x.title },
        y: { field: s.field, type: 'quantitative', title: s.title, scale: { zero: true } },
      },
    })),
    config: { font: 'DejaVu Sans', background: 'white' },
  }
  const view = new View(parse(compile(spec).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng()
  await writeFile(file, png)
}
