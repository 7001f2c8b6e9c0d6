/**
 * hookwave kinds [kind]: what the server runs (GET /v1/kinds), as a table, or one kind's target and
 * params fields; --json prints what the API answered.
 */
import type { Command } from 'commander';
import type { JsonSchema, Kind } from '@hookwave/client';
import { UsageError, clientFrom, printJson, println, remote, type RemoteFlags } from '../shared.js';
import { table } from '../table.js';

/** Rows of ready-made cells under these headers, through the CLI's one table layout. */
function formatTable(headers: string[], rows: string[][]): string {
  return table(
    headers.map((header, i) => ({ header, value: (r: string[]) => r[i] ?? '' })),
    rows,
    '',
  );
}

interface Field {
  name: string;
  required: boolean;
  type: string;
  description: string;
}

/** The fields of an object schema, required ones first (in the order `required` names them), as a person reads them. */
function fieldsOf(schema: JsonSchema): Field[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const fields = Object.entries(properties).map(([name, p]) => ({
    name,
    required: required.includes(name),
    type: Array.isArray(p.enum) ? p.enum.join('|') : Array.isArray(p.type) ? p.type.join('|') : String(p.type ?? 'any'),
    description: typeof p.description === 'string' ? p.description : '',
  }));
  const rank = (f: Field) => (f.required ? required.indexOf(f.name) : required.length);
  return fields.sort((a, b) => rank(a) - rank(b));
}

/** `stem, format` — the fields every target of the kind must have. */
function requiredTargetFields(k: Kind): string {
  const names = fieldsOf(k.target_schema).filter((f) => f.required).map((f) => f.name);
  return names.length ? names.join(', ') : '-';
}

function fieldTable(title: string, schema: JsonSchema): string {
  const fields = fieldsOf(schema);
  const open = schema.additionalProperties !== false;
  if (fields.length === 0) return `${title}: ${open ? 'any fields (the kind defines none)' : 'none'}`;
  const table = formatTable(
    ['FIELD', 'REQUIRED', 'TYPE', 'DESCRIPTION'],
    fields.map((f) => [f.name, f.required ? 'yes' : 'no', f.type, f.description]),
  );
  return `${title}:${open ? ' (other fields allowed)' : ''}\n${table}`;
}

export function registerKindCommands(program: Command): void {
  remote(program.command('kinds'))
    .description('list the kinds of work the server runs (with one kind: its target and params fields)')
    .argument('[kind]', 'show the fields of this kind')
    .action(async (name: string | undefined, flags: RemoteFlags) => {
      const kinds = await clientFrom(flags).kinds.list();
      if (name === undefined) {
        if (flags.json) return printJson(kinds);
        println(
          formatTable(
            ['KIND', 'INPUT', 'SOURCE', 'TARGET NEEDS', 'DESCRIPTION'],
            kinds.map((k) => [k.kind, k.needs_input ? 'required' : 'none', k.built_in ? 'built-in' : 'model server', requiredTargetFields(k), k.description]),
          ),
        );
        return;
      }
      const kind = kinds.find((k) => k.kind === name);
      if (!kind) throw new UsageError(`kind "${name}" is not one of: ${kinds.map((k) => k.kind).join(', ')}`);
      if (flags.json) return printJson(kind);
      println(
        [
          `${kind.kind}: ${kind.description}`,
          `input: ${kind.needs_input ? 'required (input.url or input.upload_id)' : 'none'}`,
          '',
          fieldTable('targets[] fields', kind.target_schema),
          '',
          fieldTable('params fields', kind.params_schema),
        ].join('\n'),
      );
    });
}
