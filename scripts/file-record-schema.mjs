#!/usr/bin/env node
// Writes schemas/file-record.schema.json from core/sinks/file-record.ts (run after `npm run build`).
import { writeFileSync } from 'node:fs';
const { FileRecordSchema } = await import(new URL('../dist/core/sinks/file-record.js', import.meta.url));
const schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', ...JSON.parse(JSON.stringify(FileRecordSchema)) };
writeFileSync(new URL('../schemas/file-record.schema.json', import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
