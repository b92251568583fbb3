import { z } from 'zod';
import { renderJsonTemplate, renderTemplate, templateSchema, type TemplateVars } from './template.js';
import { TaskFailure, defineTaskComponent } from './types.js';

const RESPONSE_EXCERPT_CHARS = 200;

/** The message when the config gives none: who, what, for which day, and the error if any. */
export function defaultMessage(vars: TemplateVars): string {
  const subject = vars.task ? `${vars.job}.${vars.task}` : vars.job;
  const details = [vars.attempt && `attempt ${vars.attempt}`, vars.duration].filter((part) => part !== '').join(', ');
  return `[tributary] ${subject} ${vars.state} for ${vars.ds}${details ? ` (${details})` : ''}${vars.error ? `: ${vars.error}` : ''}`;
}

/** The run's facts as a generic webhook receives them. */
export function factsPayload(vars: TemplateVars, text: string): Record<string, string | number | null> {
  return {
    text,
    job: vars.job,
    task: vars.task || null,
    run_id: vars.run_id,
    run_kind: vars.run_kind,
    state: vars.state,
    ds: vars.ds,
    data_interval_start: vars.data_interval_start,
    data_interval_end: vars.data_interval_end,
    attempt: vars.attempt === '' ? null : Number(vars.attempt),
    error: vars.error || null,
    duration: vars.duration || null,
  };
}

export const notifyConfigSchema = z.strictObject({
  /** Name of the environment variable holding the webhook URL: URLs are secrets and stay out of config. */
  urlEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'urlEnv names an environment variable, e.g. SLACK_WEBHOOK_URL'),
  /** 'slack': `{ text, blocks? }` for Slack-compatible incoming webhooks; 'json': the run's facts. */
  format: z.enum(['slack', 'json']).default('slack'),
  /** Template over the run's facts ({{ job }}, {{ task }}, {{ ds }}, {{ state }}, {{ error }}, …). */
  message: templateSchema.optional(),
  /** Slack Block Kit blocks; every string in them is templated too. */
  blocks: z.array(z.json()).optional(),
});

/**
 * Why a request never reached the webhook, without its URL: fetch names the URL it could not
 * parse, and a webhook's URL is its secret (Slack's carries the token in its path).
 */
function withoutUrl(error: unknown, url: string): string {
  if (!URL.canParse(url)) return 'the variable holds no URL (it should start with https://)';
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
  return cause.replaceAll(url, 'the URL');
}

/** POSTs a message about the run to a webhook. Jobs' and tasks' hooks use this same component. */
export const notifyTask = defineTaskComponent({
  kind: 'notify',
  description: 'Post a message about the run to a Slack-compatible or generic JSON webhook',
  config: notifyConfigSchema,
  create: (config) => ({
    async run(ctx) {
      const url = ctx.platform.env[config.urlEnv];
      if (!url) {
        throw new TaskFailure(`environment variable ${config.urlEnv} (the webhook URL) is not set`, { retryable: false });
      }
      const text = config.message === undefined ? defaultMessage(ctx.vars) : renderTemplate(config.message, ctx.vars, 'text');
      const body =
        config.format === 'slack'
          ? { text, ...(config.blocks ? { blocks: renderJsonTemplate(config.blocks, ctx.vars) } : {}) }
          : factsPayload(ctx.vars, text);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: ctx.signal,
      }).catch((error: unknown) => {
        if (ctx.signal.aborted) throw error;
        throw new TaskFailure(`cannot post to the webhook from ${config.urlEnv}: ${withoutUrl(error, url)}`);
      });
      const reply = await response.text();
      if (!response.ok) {
        // The URL itself is a secret: name the variable, never the URL.
        throw new TaskFailure(`webhook from ${config.urlEnv} answered ${response.status}: ${reply.slice(0, RESPONSE_EXCERPT_CHARS)}`);
      }
      ctx.log(`posted to the webhook from ${config.urlEnv} (${response.status})`);
      return { status: 'success', result: { status: response.status } };
    },
  }),
});
