/**
 * The one error table. Services throw DomainError with one of these codes; the GraphQL layer turns it into
 * `extensions.code` (and `extensions.field` for BAD_USER_INPUT). Anything else is masked as INTERNAL_SERVER_ERROR.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: 'Authentication is required',
  FORBIDDEN: 'Not allowed',
  NOT_FOUND: 'Not found',
  BAD_USER_INPUT: 'Invalid input',
  INSUFFICIENT_FUNDS: 'Insufficient funds',
  PRICE_BELOW_COST: 'Price is below cost',
  CURRENCY_MISMATCH: 'Currency mismatch',
  NO_RATE: 'No rate for this destination',
  MINIMUM_TERM: 'Minimum term not reached',
  ALREADY_EXISTS: 'Already exists',
  IDEMPOTENCY_CONFLICT: 'Idempotency key was used with different input',
  INVALID_STATE: 'Invalid state',
  RATE_LIMITED: 'Too many requests; try again later',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, options: { field?: string; details?: Record<string, unknown> } = {}) {
    super(message ?? ERROR_CODES[code]);
    this.name = 'DomainError';
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  get extensions(): Record<string, unknown> {
    return { code: this.code, ...(this.field ? { field: this.field } : {}), ...(this.details ?? {}) };
  }
}

export const badInput = (field: string, message: string) => new DomainError('BAD_USER_INPUT', message, { field });
export const notFound = (what = 'Not found') => new DomainError('NOT_FOUND', what);
export const forbidden = (message = 'Not allowed') => new DomainError('FORBIDDEN', message);
