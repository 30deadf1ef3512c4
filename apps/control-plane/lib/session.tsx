'use client';
import { createContext, useContext } from 'react';
import type { Role } from './format';

/** The signed-in operator. */
export interface Me {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export const MeContext = createContext<Me | null>(null);

/** The signed-in operator (inside the signed-in layout). */
export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe() outside the signed-in layout');
  return me;
}
