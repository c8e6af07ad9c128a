#!/usr/bin/env node
// CommonJS (bin/package.json): dist/bundle/sockscope.cjs, compiled from its code cache by dist/bundle/launch.cjs
// (src/cli/launch.ts), without loading node's ES module loader; the modules of dist/src when there is no bundle
// (a checkout compiled with tsc alone).
'use strict';
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'bundle');
const argv = process.argv.slice(2);
let launcher;
try {
  launcher = require(join(bundle, 'launch.cjs'));
} catch (e) {
  if (e?.code !== 'MODULE_NOT_FOUND') throw e;
}
if (launcher) launcher.launch(join(bundle, 'sockscope.cjs'), argv);
else import('../dist/src/cli/main.js').then((m) => m.main(argv));
