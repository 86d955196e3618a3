import { Type, type Platform, type EntityProperty } from '@mikro-orm/core';
import { Decimal } from '../money.js';

/** numeric(20,6) <-> decimal.js, always through strings: a JS number never holds money. */
export class DecimalType extends Type<Decimal | null | undefined, string | null | undefined> {
  override convertToDatabaseValue(value: Decimal | string | null | undefined): string | null | undefined {
    if (value === null || value === undefined) return value;
    const d = value instanceof Decimal ? value : new Decimal(value);
    if (!d.isFinite()) throw new Error('Refusing to store a non-finite amount');
    return d.toFixed();
  }

  override convertToJSValue(value: Decimal | string | null | undefined): Decimal | null | undefined {
    if (value === null || value === undefined) return value;
    if (value instanceof Decimal) return value;
    const d = new Decimal(value);
    if (d.isNaN()) throw new Error(`Invalid numeric value from the database: ${value}`);
    return d;
  }

  override compareAsType(): string {
    return 'string';
  }

  override getColumnType(_prop: EntityProperty, _platform: Platform): string {
    return 'numeric(20,6)';
  }
}
