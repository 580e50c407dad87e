/**
 * The project's own error codes for what Fastify reports: a client sees
 * `{ error: 'payload_too_large', message }`, never FST_ERR_CTP_BODY_TOO_LARGE,
 * and a validation message names the field it is about.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError } from 'fastify';

/** 'payload_too_large' for 413: the HTTP reason phrase, in snake case. */
export function errorCodeFor(status: number): string {
  return (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

interface ValidationEntry {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** "body.admin: unknown field" rather than "body must NOT have additional properties". */
export function validationMessage(error: FastifyError): string {
  const [first] = (error.validation ?? []) as ValidationEntry[];
  if (!first) return error.message;
  const where = [error.validationContext ?? 'request', ...first.instancePath.split('/').filter(Boolean)].join('.');
  if (first.keyword === 'additionalProperties') return `${where}.${String(first.params.additionalProperty)}: unknown field`;
  if (first.keyword === 'required') return `${where}.${String(first.params.missingProperty)}: required`;
  return `${where}: ${first.message ?? 'is not valid'}`;
}
