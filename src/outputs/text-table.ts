/** Aligned text columns for people (the summary, `ls --format table`). */
export type Align = 'l' | 'r';

export function formatColumns(rows: readonly (readonly string[])[], align: readonly Align[], indent = '', gap = '  '): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return `${rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => {
            const last = i === row.length - 1;
            if (align[i] === 'r') return cell.padStart(widths[i]);
            return last ? cell : cell.padEnd(widths[i]);
          })
          .join(gap)
          .trimEnd(),
    )
    .join('\n')}\n`;
}

/** 152003 → "152,003" */
export const thousands = (n: number): string =>
  Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
