import type { AuthChecker } from 'type-graphql';
import type { Context } from '../context.js';
import { AccountKind } from '../entities/index.js';

export const Role = AccountKind;

/** Deny by default: resolvers carry @Authorized(); roles are account kinds. */
export const authChecker: AuthChecker<Context, AccountKind> = ({ context }, roles) =>
  context.actor !== null && (roles.length === 0 || roles.includes(context.actor.kind));
