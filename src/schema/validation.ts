/**
 * Turns JSON-schema (Ajv) errors into one message a person can act on, naming the field:
 * "targets[0].format must be one of: mp3, wav" rather than "/targets/0/format must be equal to …".
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { HookwaveError, type ErrorCode } from '../errors.js';
import type { JsonSchema } from './json-schema.js';

const ajv = new Ajv({ allErrors: false, strict: false });
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/** "/targets/0/format" under prefix "body" → "targets[0].format". */
export function fieldPath(prefix: string, instancePath: string): string {
  let out = prefix;
  for (const part of instancePath.split('/').filter(Boolean)) {
    const p = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  null: 'null',
};

/** Ajv's "object,null" as "an object or null". */
function typeWords(types: string): string {
  const words = types.split(',').map((t) => TYPE_WORDS[t] ?? t);
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words[0]!;
}

export function describeAjvError(e: ErrorObject, prefix: string): { field: string; message: string } {
  const params = e.params as Record<string, unknown>;
  let field = fieldPath(prefix, e.instancePath);
  let message: string;
  switch (e.keyword) {
    case 'required':
      field = fieldPath(field, `/${String(params.missingProperty)}`);
      message = `${field} is required`;
      break;
    case 'additionalProperties':
      message = `${field || 'body'} has unknown field "${String(params.additionalProperty)}"`;
      field = fieldPath(field, `/${String(params.additionalProperty)}`);
      break;
    case 'enum':
      message = `${field} must be one of: ${(params.allowedValues as unknown[]).join(', ')}`;
      break;
    case 'type':
      message = `${field || 'body'} must be ${typeWords(String(params.type))}`;
      break;
    case 'minItems':
    case 'maxItems': {
      const n = Number(params.limit);
      message = `${field} needs ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${n} ${n === 1 ? 'item' : 'items'}`;
      break;
    }
    case 'minLength':
    case 'maxLength': {
      const n = Number(params.limit);
      message = `${field} must be ${e.keyword === 'minLength' ? 'at least' : 'at most'} ${n} ${n === 1 ? 'character' : 'characters'} long`;
      break;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const words = { minimum: 'at least', maximum: 'at most', exclusiveMinimum: 'more than', exclusiveMaximum: 'less than' }[e.keyword];
      message = `${field} must be ${words} ${String(params.limit)}`;
      break;
    }
    case 'minProperties':
      message = `${field || 'body'} needs at least ${String(params.limit)} field(s)`;
      break;
    case 'pattern':
      message = `${field} is not in the expected form (${String(params.pattern)})`;
      break;
    case 'const':
      message = `${field} must be ${JSON.stringify(params.allowedValue)}`;
      break;
    default:
      message = `${field || 'body'} ${e.message ?? 'is invalid'}`;
  }
  return { field: field || 'body', message };
}

/** Validates `value` against `schema`; throws `code` naming the first field at fault. */
export function validateSchema(schema: JsonSchema, value: unknown, prefix: string, code: ErrorCode = 'VALIDATION_ERROR'): void {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return;
  const first = validate.errors![0]!;
  const { field, message } = describeAjvError(first, prefix);
  throw new HookwaveError(code, message, { field });
}
