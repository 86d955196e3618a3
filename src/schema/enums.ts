import { registerEnumType } from 'type-graphql';
import { AccountKind, AccountStatus, BillingMode, ResellerModel } from '../entities/index.js';

export { AccountKind, AccountStatus, BillingMode, ResellerModel };

registerEnumType(AccountKind, { name: 'AccountKind' });
registerEnumType(AccountStatus, { name: 'AccountStatus' });
registerEnumType(BillingMode, { name: 'BillingMode' });
registerEnumType(ResellerModel, { name: 'ResellerModel' });
