// The languages the emergency card offers for its second face: the app's others, English first offered
// (the language a clinician abroad most often reads), else the first of the others.
import { LANGUAGES, type Language } from '../../boot/settings';

export const secondLanguages = (
  app: Language,
): { readonly choices: readonly Language[]; readonly first: Language } => {
  const choices = LANGUAGES.filter((l) => l !== app);
  return { choices, first: choices.includes('en') ? 'en' : (choices[0] ?? 'en') };
};
