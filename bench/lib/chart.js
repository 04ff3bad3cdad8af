// Bench charts: a Vega-Lite spec compiled to Vega, rendered to SVG (vega, no browser), then to
// PNG by resvg (system fonts). Used by the benches that save a picture under bench/results/.
import { writeFileSync } from "node:fs";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vegaLite from "vega-lite";

/** Renders `spec` (Vega-Lite) to `pngPath`; returns the PNG's size in bytes. */
export async function writeChartPng(spec, pngPath) {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { background: "white", fitTo: { mode: "zoom", value: 2 }, font: { defaultFontFamily: "DejaVu Sans" } }).render().asPng();
  writeFileSync(pngPath, png);
  return png.length;
}

/**
 * Side-by-side line charts of `fields` (each { field, title }) against `x`, one line per `series`
 * value: e.g. throughput and p50 against concurrency, batching on against off.
 */
export function lineCharts(title, rows, x, series, fields) {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values: rows },
    hconcat: fields.map(({ field, title: t, scale }) => ({
      width: 320, height: 220,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: x.field, type: "quantitative", title: x.title, scale: { type: "log", base: 2 }, axis: { values: x.values } },
        y: { field, type: "quantitative", title: t, ...(scale ? { scale } : {}) },
        color: { field: series.field, type: "nominal", title: series.title },
      },
    })),
  };
}
