#!/usr/bin/env node
// `npm run schema`: writes schema/socket.schema.json from the socket member table (src/outputs/listing/socket-members.ts).
import { writeFileSync } from 'node:fs';

const { socketSchemaText } = await import(new URL('../dist/src/outputs/listing/socket-schema.js', import.meta.url).href);
const file = new URL('../schema/socket.schema.json', import.meta.url);
writeFileSync(file, socketSchemaText());
console.log(`wrote ${file.pathname}`);
