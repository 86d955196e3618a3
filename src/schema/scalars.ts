import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { Decimal, formatMoney, MoneyFormatError, parseMoney } from '../money.js';

function parse(value: unknown): Decimal {
  try {
    return parseMoney(value);
  } catch (error) {
    if (error instanceof MoneyFormatError) {
      throw new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT' } });
    }
    throw error;
  }
}

/** Decimal amounts as strings: "12.5". Inputs must be strings matching ^-?\d+(\.\d{1,6})?$ (no floats). */
export const MoneyScalar = new GraphQLScalarType<Decimal, string>({
  name: 'Money',
  description: 'A decimal amount as a string, e.g. "12.5". Inputs must match ^-?\\d+(\\.\\d{1,6})?$.',
  serialize(value) {
    if (value instanceof Decimal) return formatMoney(value);
    if (typeof value === 'string') return formatMoney(new Decimal(value));
    throw new GraphQLError('Money can only serialize decimal values');
  },
  parseValue: parse,
  // Plain errors here, so graphql-js attaches the literal's location and the error names the field it was for.
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new MoneyFormatError('Money must be a decimal string such as "12.50", not a number');
    return parseMoney(ast.value);
  },
});

/** graphql-scalars' DateTime, limited to the years PostgreSQL's timestamptz and the service handle (1-9999). */
function inRange(value: Date): Date {
  const year = value.getUTCFullYear();
  if (!(year >= 1 && year <= 9999))
    throw new GraphQLError('DateTime must be between the years 1 and 9999', { extensions: { code: 'BAD_USER_INPUT' } });
  return value;
}

export const DateTimeScalar = new GraphQLScalarType<Date, Date>({
  ...DateTimeResolver.toConfig(),
  parseValue: (value) => {
    let parsed: Date;
    try {
      parsed = DateTimeResolver.parseValue(value) as Date;
    } catch (error) {
      throw new GraphQLError((error as Error).message, { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return inRange(parsed);
  },
  parseLiteral: (ast, variables) => {
    let value: Date;
    try {
      value = DateTimeResolver.parseLiteral(ast, variables) as Date;
    } catch (error) {
      throw new Error((error as Error).message, { cause: error });
    }
    const year = value.getUTCFullYear();
    // (A NaN year, from an unparseable instant, fails the check too.) A plain error here, so graphql-js attaches the literal's location and the error can name the field.
    if (!(year >= 1 && year <= 9999)) throw new Error('DateTime must be between the years 1 and 9999');
    return value;
  },
});
