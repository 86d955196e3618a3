/**
 * Scalars as SQL for planned reads, formatted as the scalars format them: Money as formatMoney prints a Decimal
 * (no trailing zeros), DateTime as Date.toISOString.
 */
export const money = (expression: string) => `trim_scale(${expression})::text`;
export const instant = (expression: string) => `to_char(${expression} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
