import { ZxcvbnFactory, type TranslationKeys } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '../errors.js';
import { PRODUCT_NAME } from '../system/status.js';

/** Shortest password accepted. */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest password accepted. */
export const MAX_PASSWORD_LENGTH = 256;
/**
 * zxcvbn judges the first this-many characters (its cost grows faster than the length: 250 ms
 * for 256 characters, a few ms for 100). Judging a prefix can only lower the score, never raise it.
 */
const ANALYSED_LENGTH = 100;
/**
 * Least zxcvbn score (0–4) accepted: 3 = "safely unguessable: moderate protection from an
 * offline slow-hash scenario" (about 10^8 guesses and more).
 */
export const MIN_PASSWORD_SCORE = 3;

// zxcvbn-ts ships its feedback as keys; these are the English sentences of the original zxcvbn.
const translations: TranslationKeys = {
  warnings: {
    straightRow: 'Straight rows of keys on your keyboard are easy to guess.',
    keyPattern: 'Short keyboard patterns are easy to guess.',
    simpleRepeat: 'Repeated characters like "aaa" are easy to guess.',
    extendedRepeat: 'Repeated character patterns like "abcabcabc" are easy to guess.',
    sequences: 'Common character sequences like "abc" are easy to guess.',
    recentYears: 'Recent years are easy to guess.',
    dates: 'Dates are easy to guess.',
    topTen: 'This is a heavily used password.',
    topHundred: 'This is a frequently used password.',
    common: 'This is a commonly used password.',
    similarToCommon: 'This is similar to a commonly used password.',
    wordByItself: 'Single words are easy to guess.',
    namesByThemselves: 'Single names or surnames are easy to guess.',
    commonNames: 'Common names and surnames are easy to guess.',
    userInputs: 'It contains your name, your e-mail address or the product name.',
    pwned: 'This password was exposed by a data breach on the internet.',
  },
  suggestions: {
    l33t: 'Avoid predictable letter substitutions like "@" for "a".',
    reverseWords: 'Avoid reversed spellings of common words.',
    allUppercase: 'Capitalize some, but not all letters.',
    capitalization: 'Capitalize more than the first letter.',
    dates: 'Avoid dates and years that are associated with you.',
    recentYears: 'Avoid recent years.',
    associatedYears: 'Avoid years that are associated with you.',
    sequences: 'Avoid common character sequences.',
    repeated: 'Avoid repeated words and characters.',
    longerKeyboardPattern: 'Use longer keyboard patterns and change typing direction multiple times.',
    anotherWord: 'Add more words that are less common.',
    useWords: 'Use multiple words, but avoid common phrases.',
    noNeed: 'You can create strong passwords without using symbols, numbers, or uppercase letters.',
    pwned: 'If you use this password elsewhere, you should change it.',
  },
  timeEstimation: {
    ltSecond: 'less than a second',
    second: '{base} second',
    seconds: '{base} seconds',
    minute: '{base} minute',
    minutes: '{base} minutes',
    hour: '{base} hour',
    hours: '{base} hours',
    day: '{base} day',
    days: '{base} days',
    month: '{base} month',
    months: '{base} months',
    year: '{base} year',
    years: '{base} years',
    centuries: 'centuries',
  },
};

let factory: ZxcvbnFactory | undefined;
/** Built on first use: ranking the dictionaries takes a few tens of milliseconds. */
function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs, translations, useLevenshteinDistance: true, maxLength: ANALYSED_LENGTH });
  return factory;
}

/** What the policy penalises besides its dictionaries: the product and who the account is. */
function penalisedWords(userInputs: readonly (string | null | undefined)[]): string[] {
  const words = new Set<string>([PRODUCT_NAME, ...PRODUCT_NAME.split(/\s+/), 'fleet', 'fleet-agent', 'admin', 'operator']);
  for (const input of userInputs) {
    const v = input?.trim();
    if (!v) continue;
    words.add(v);
    if (v.includes('@')) words.add(v.slice(0, v.indexOf('@')));
    // An e-mail contributes its local part and each label of its domain; a name each word.
    for (const part of v.split(/[@.\s_+-]+/)) if (part.length >= 3) words.add(part);
  }
  return [...words].map((w) => w.toLowerCase());
}

/**
 * Why `password` is refused, as a sentence to show at the field, or null when it is accepted.
 * Refused: shorter than {@link MIN_PASSWORD_LENGTH} or longer than {@link MAX_PASSWORD_LENGTH},
 * only whitespace, or guessable — a zxcvbn score below {@link MIN_PASSWORD_SCORE} with the
 * common-language dictionaries and keyboard graphs of `@zxcvbn-ts/language-common`, where
 * `userInputs` (the account's e-mail and name) and the product name count as known words.
 * The message carries zxcvbn's warning and suggestions; never the password.
 */
export function passwordProblem(password: string, userInputs: readonly (string | null | undefined)[] = []): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `must be at most ${MAX_PASSWORD_LENGTH} characters`;
  if (password.trim() === '') return 'must not be only spaces';
  const result = zxcvbn().check(password, penalisedWords(userInputs));
  if (result.score >= MIN_PASSWORD_SCORE) return null;
  const advice = [result.feedback.warning, ...result.feedback.suggestions].filter((s): s is string => Boolean(s));
  if (advice.length === 0) advice.push(translations.suggestions.anotherWord);
  return `is too easy to guess. ${advice.join(' ')}`;
}

/**
 * Throws `AppError('BAD_INPUT')` naming `field` when {@link passwordProblem} refuses the password.
 * `label` starts the message (e.g. `password`, `ADMIN_PASSWORD`).
 */
export function assertPasswordPolicy(password: string, userInputs: readonly (string | null | undefined)[], field = 'password', label = field): void {
  const problem = passwordProblem(password, userInputs);
  if (problem) throw new AppError('BAD_INPUT', `${label} ${problem}`, { field });
}
