// Reads an Arrow IPC file (file or stream format) with the apache-arrow npm package and prints
// {"fields":[{"name","type"}...],"rows":[[...],...]} with every value as a string (null stays null),
// so the .NET test can compare it with the rows it exported.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';

const table = tableFromIPC(readFileSync(process.argv[2]));
const fields = table.schema.fields.map(f => ({ name: f.name, type: String(f.type) }));
const columns = table.schema.fields.map((_, i) => table.getChildAt(i));
const rows = [];
for (let r = 0; r < table.numRows; r++) {
  rows.push(columns.map(c => {
    const v = c.get(r);
    if (v === null || v === undefined) return null;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
    return String(v);
  }));
}
process.stdout.write(JSON.stringify({ fields, rows }));
