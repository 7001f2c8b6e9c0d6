/**
 * Tables for terminals: a header row, columns padded to their widest cell, two spaces between.
 * Every list a command prints goes through here, so every table has column headers.
 */

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

export function table<T>(columns: ReadonlyArray<Column<T>>, rows: readonly T[], empty: string): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  // No trailing spaces on any line, even when the last cells are empty.
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

/** An ISO time as `2026-12-05 09:14:03` (UTC), or "-". */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-';
}
