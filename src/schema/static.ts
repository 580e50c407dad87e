/**
 * The TypeScript type a JSON schema describes, for the subset our routes use
 * (object, array, string, integer, number, boolean, null, enum, `required`,
 * and OpenAPI 3.0's `nullable`), so that a schema written once `as const` is
 * both what Fastify validates and serialises and the type the code builds:
 * the two can no longer drift apart.
 *
 * A property is optional unless the object's `required` lists it.
 * `additionalProperties` adds nothing to the type (a response keeps fields
 * added later; the code should still name what it sends).
 */

/** A schema marked `nullable` also admits null (OpenAPI 3.0 has no `type: [x, 'null']`). */
export const nullable = <const T extends object>(schema: T): T & { readonly nullable: true } => ({ ...schema, nullable: true });

type Simplify<T> = { -readonly [K in keyof T]: T[K] } & {};

type RequiredNames<S> = S extends { readonly required: readonly (infer Name)[] } ? Name : never;

type ObjectOf<Properties, Required> = Simplify<
  { -readonly [K in keyof Properties as K extends Required ? K : never]: Static<Properties[K]> } & {
    -readonly [K in keyof Properties as K extends Required ? never : K]?: Static<Properties[K]>;
  }
>;

type NotNull<S> = S extends { readonly enum: readonly (infer Value)[] }
  ? Value
  : S extends { readonly type: 'string' }
    ? string
    : S extends { readonly type: 'integer' | 'number' }
      ? number
      : S extends { readonly type: 'boolean' }
        ? boolean
        : S extends { readonly type: 'null' }
          ? null
          : S extends { readonly type: 'array'; readonly items: infer Items }
            ? Array<Static<Items>>
            : S extends { readonly type: 'object'; readonly properties: infer Properties }
              ? ObjectOf<Properties, RequiredNames<S>>
              : unknown;

export type Static<S> = S extends { readonly nullable: true } ? NotNull<S> | null : NotNull<S>;
