import { useEffect, useRef, useState } from 'react';
import { money } from './format';
import { useBalance } from './live';

/** A balance that follows pushed events and flashes when one changes it. */
export function Balance({
  account,
  field = 'balance',
}: {
  account: { id: string; balance: string; availableBalance: string; currency: string };
  field?: 'balance' | 'availableBalance';
}) {
  const current = useBalance(account);
  const value = current[field];
  const [flash, setFlash] = useState(false);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    setFlash(true);
    const timer = setTimeout(() => setFlash(false), 1500);
    return () => clearTimeout(timer);
  }, [value]);
  const negative = value.startsWith('-');
  return (
    <span className={`money${negative ? ' negative' : ''}${flash ? ' flash' : ''}`} data-account={account.id} data-field={field}>
      {money(value, account.currency)}
    </span>
  );
}
