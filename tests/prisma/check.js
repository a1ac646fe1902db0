'use strict';
// Validate a Prisma schema with Prisma's own schema engine (the WebAssembly build that
// the Prisma CLI ships), offline. Usage: node check.js [--prisma 7|6] < schema.prisma
// --prisma 7 (default): Prisma 7.10's engine (@prisma/prisma-schema-wasm);
// --prisma 6: Prisma 6.19's, installed beside it under the npm alias prisma-schema-wasm-6.
// Exit 0: valid, and (unless --no-format-check) already in `prisma format`'s layout.
// Exit 1: the engine's error (or the formatting difference) on stderr.
// Exit 2: the engine package is not installed (npm ci --prefix tests/prisma).
const fs = require('fs');

// The engine reports a Rust panic through this global (as the Prisma CLI sets it up).
global.PRISMA_WASM_PANIC_REGISTRY = {
  message: '',
  set_message(message) { this.message = `RuntimeError: ${message}`; },
};

// A panic surfaces as a bare "unreachable" RuntimeError: print the engine's message too.
process.on('uncaughtException', (err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n${global.PRISMA_WASM_PANIC_REGISTRY.message}\n`);
  process.exit(1);
});

const at = process.argv.indexOf('--prisma');
const major = at === -1 ? '7' : process.argv[at + 1];
const ENGINES = { 7: '@prisma/prisma-schema-wasm', 6: 'prisma-schema-wasm-6' };
if (!(major in ENGINES)) {
  process.stderr.write(`--prisma: ${major} is not one of ${Object.keys(ENGINES).join(', ')}\n`);
  process.exit(2);
}
let wasm;
try {
  wasm = require(ENGINES[major]);
} catch (err) {
  process.stderr.write(`${ENGINES[major]} is not installed (npm ci --prefix tests/prisma): ${err.message}\n`);
  process.exit(2);
}

const schema = fs.readFileSync(0, 'utf8');
const formatCheck = !process.argv.includes('--no-format-check');
const files = [['schema.prisma', schema]];

function fail(what, detail) {
  process.stderr.write(`${what}\n${detail}\n`);
  process.exit(1);
}

try {
  wasm.validate(JSON.stringify({ prismaSchema: files, noColor: true }));
} catch (err) {
  fail('prisma validate: the schema is invalid', err && err.message ? err.message : String(err));
}

// get_config reads the datasource and generator blocks; errors come back in the JSON.
const config = JSON.parse(
  wasm.get_config(JSON.stringify({ prismaSchema: files, datasourceOverrides: {}, ignoreEnvVarErrors: true, env: {} })),
);
if (config.errors && config.errors.length) {
  fail('prisma get_config: errors', JSON.stringify(config.errors, null, 2));
}

// The data model as the client generator sees it (models, enums, fields).
const dmmf = JSON.parse(wasm.get_dmmf(JSON.stringify({ prismaSchema: files, noColor: true })));

const lint = JSON.parse(wasm.lint(JSON.stringify(files)));
if (lint.length) {
  fail('prisma lint: warnings or errors', JSON.stringify(lint, null, 2));
}

if (formatCheck) {
  // format takes and returns the multi-file form ([[file name, text], ...]); an
  // options uri that is not a URI makes it hand the text back unformatted.
  const result = JSON.parse(wasm.format(
    JSON.stringify(files),
    JSON.stringify({ textDocument: { uri: 'file:/schema.prisma' }, options: { tabSize: 2, insertSpaces: true } }),
  ));
  const formatted = result[0][1];
  if (formatted !== schema) {
    fail('prisma format would change the schema', formatted);
  }
}

// One line of JSON for the caller: what the engine understood.
const summary = {
  engine: require(`${ENGINES[major]}/package.json`).version,
  provider: config.config.datasources.map((d) => d.activeProvider),
  models: dmmf.datamodel.models.map((m) => ({
    name: m.name,
    dbName: m.dbName ?? null,
    fields: m.fields.map((f) => ({ name: f.name, kind: f.kind, type: f.type, dbName: f.dbName ?? null, isRequired: f.isRequired, isList: f.isList, isId: f.isId, isUnique: f.isUnique, hasDefault: f.hasDefaultValue, isUpdatedAt: f.isUpdatedAt })),
  })),
  enums: dmmf.datamodel.enums.map((e) => ({ name: e.name, values: e.values.map((v) => v.name) })),
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
