/**
 * Interfaces vanish at run time, so each area also lists its operation names in an object typed
 * `OpNames<AreaOps>`: the compiler rejects a name missing from it or one the interface lacks, which
 * keeps the list (what stores expose, what the contract test must cover) equal to the interface.
 */
export type OpNames<T> = { readonly [K in keyof T]-?: true };
