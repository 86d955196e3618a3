import type { AuthChecker } from 'type-graphql';
import type { Context } from '../context.js';
import { AccountKind } from '../entities/index.js';
import { DomainError } from '../errors.js';

export const Role = AccountKind;

/** Deny by default: resolvers carry @Authorized(); roles are account kinds. No caller at all is UNAUTHENTICATED. */
export const authChecker: AuthChecker<Context, AccountKind> = ({ context }, roles) => {
  if (!context.actor) throw new DomainError('UNAUTHENTICATED');
  return roles.length === 0 || roles.includes(context.actor.kind);
};
