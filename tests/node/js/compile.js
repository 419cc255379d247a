// Standard-JSON compilation with solcjs (npm `solc`): reads the input JSON on stdin,
// resolves imports from node_modules (NODE_PATH), prints the output JSON on stdout.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const roots = (process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean);

function findImports(name) {
  for (const root of roots) {
    const file = path.join(root, name);
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: "not found: " + name };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
