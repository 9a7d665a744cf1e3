// `npm run bench`: the CPU comparison of the TypeScript axon against a natix-style Python miner (DINOv2-S/14-reg with
// random weights, concurrency 1 and 16). Takes several minutes and needs a Python with torch: bench/.venv by default,
// or BENCH_PYTHON. Extra arguments go to the driver (bench/driver.ts), e.g. `npm run bench -- --requests 100`.
import { checkPython, parseBenchArgs, runBenchmark } from "../bench/driver.ts";

const defaults = [
  "--models",
  "dinov2-s14-reg",
  "--device",
  "cpu",
  "--concurrency",
  "1,16",
  "--target-p99-ratio",
  "1:0.5,16:0.33",
];

try {
  const options = parseBenchArgs([...defaults, ...process.argv.slice(2)]);
  checkPython(options.python);
  const result = await runBenchmark(options);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} catch (error) {
  process.stderr.write(`bench: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
