#!/usr/bin/env node
// dist/bundle/sockscope.cjs from its code cache (src/cli/launch.ts); dist/src when there is no bundle
import('../dist/src/cli/launch.js').then((m) => m.launch(process.argv.slice(2)));
