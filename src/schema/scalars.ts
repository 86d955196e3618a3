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

export const DateTimeScalar = DateTimeResolver;
