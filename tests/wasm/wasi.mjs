// Runs a wasm32-wasip1 program under Node.js's WASI (preview 1): cargo's runner for that target
// (`make test-wasm`). The whole file system is preopened at its own paths, so the absolute paths a
// test builds from CARGO_MANIFEST_DIR resolve as they do natively; the environment is passed
// through. Exits with the program's status.
//
//     node tests/wasm/wasi.mjs program.wasm [args...]
import { readFile } from "node:fs/promises";
import process from "node:process";
import { WASI } from "node:wasi";

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error("usage: node wasi.mjs program.wasm [args...]");
  process.exit(2);
}
const wasi = new WASI({
  version: "preview1",
  args: [file, ...args],
  env: process.env,
  preopens: { "/": "/" },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exit(wasi.start(instance));
