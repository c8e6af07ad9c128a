/**
 * The single executable's entry (scripts/build-sea.mjs bundles from here): as bin/sockscope.js for npm.
 * In a single executable process.argv is [executable, executable, ...arguments], as [node, script, ...].
 */
import { main } from './main.js';

void main(process.argv.slice(2));
