// Writes the two series the forecasting benchmark adds to the examples' (bench/forecast/data/, not committed):
//   ny-temp.csv       New York's daily maximum temperature 2012-2015 (vega-datasets weather.csv, BSD-3-Clause)
//   mackey-glass.csv  the Mackey-Glass delay equation (tau = 17), a chaotic benchmark series, sampled once per
//                     time unit: dx/dt = 0.2 x(t - 17) / (1 + x(t - 17)^10) - 0.1 x(t), Runge-Kutta with step 0.1
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const dir = new URL("data/", import.meta.url);
mkdirSync(dir, { recursive: true });

{
  const lines = readFileSync(new URL("../../node_modules/vega-datasets/data/weather.csv", import.meta.url), "utf8")
    .trim()
    .split("\n");
  const header = lines[0].split(",");
  const at = (name) => header.indexOf(name);
  const rows = ["date,temp_max,temp_min,precipitation,wind"];
  for (const line of lines.slice(1)) {
    const c = line.split(",");
    if (c[at("location")] !== "New York") continue;
    rows.push([c[at("date")], c[at("temp_max")], c[at("temp_min")], c[at("precipitation")], c[at("wind")]].join(","));
  }
  writeFileSync(new URL("ny-temp.csv", dir), rows.join("\n") + "\n");
}

{
  const tau = 17;
  const h = 0.1;
  const lag = Math.round(tau / h);
  const xs = new Array(lag + 1).fill(1.2); // x(t) = 1.2 for t <= 0
  const f = (x, xd) => (0.2 * xd) / (1 + xd ** 10) - 0.1 * x;
  const steps = (500 + 3000) * 10;
  for (let n = 0; n < steps; n++) {
    const x = xs[xs.length - 1];
    // The delayed value is held over the step (the usual simplification for a fixed step equal to a divisor of tau).
    const xd = xs[xs.length - 1 - lag];
    const k1 = f(x, xd);
    const k2 = f(x + (h / 2) * k1, xd);
    const k3 = f(x + (h / 2) * k2, xd);
    const k4 = f(x + h * k3, xd);
    xs.push(x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4));
  }
  const rows = ["t,x"];
  const start = lag + 1 + 500 * 10; // the first 500 time units are the transient
  for (let k = 0; k < 3000; k++) rows.push(`${k},${xs[start + k * 10].toFixed(6)}`);
  writeFileSync(new URL("mackey-glass.csv", dir), rows.join("\n") + "\n");
}
