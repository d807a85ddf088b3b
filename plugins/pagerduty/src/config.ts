import type { ConfigSection } from '@teleport-plugin/core';

export const DEFAULT_API_ENDPOINT = 'https://api.pagerduty.com';
export const DEFAULT_NOTIFY_SERVICE_ANNOTATION = 'pagerduty_notify_service';
export const DEFAULT_SERVICES_ANNOTATION = 'pagerduty_services';

export interface PagerDutyConfig {
  apiKey: string;
  /** Sent as `From` on every write; PagerDuty refuses writes without a valid user's email. */
  userEmail: string;
  /** Base URL without a trailing slash. */
  apiEndpoint: string;
  annotations: {
    /** Request annotation whose first value names the service to open the incident on. */
    notifyService: string;
    /** Request annotation listing the services whose on-call users are auto-approved. */
    services: string;
  };
  /** Only on-call entries at this escalation level or lower count for auto-approval. */
  onCallMaxEscalationLevel: number | undefined;
  /**
   * Service names `teleport-plugin check` looks up. Roles (where the annotations live) cannot be
   * listed by the plugin, so this list is how a user asks for the names to be verified.
   */
  checkServices: string[];
}

/** Reads `[pagerduty]`. Keys and defaults match the Go plugin's TOML. */
export function parsePagerDutyConfig(section: ConfigSection): PagerDutyConfig {
  const apiKey = section.secret('api_key', { required: true });
  if (!apiKey) throw section.error('api_key', 'a PagerDuty REST API key (or a /path to a file holding it)');

  const userEmail = section.requireString('user_email').trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(userEmail)) {
    throw section.error('user_email', 'the email address of a PagerDuty user (sent as the From header on writes)');
  }

  const endpointRaw = section.string('api_endpoint', { default: DEFAULT_API_ENDPOINT }) ?? DEFAULT_API_ENDPOINT;
  let endpoint: URL;
  try {
    endpoint = new URL(endpointRaw);
  } catch {
    throw section.error('api_endpoint', `an http:// or https:// URL, got "${endpointRaw}"`);
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw section.error('api_endpoint', `an http:// or https:// URL, got "${endpointRaw}"`);
  }
  if (endpoint.search || endpoint.hash) {
    throw section.error('api_endpoint', 'a base URL without a query or fragment');
  }

  // Upstream's Go struct field is untagged, so its TOML spelling is `requestannotations`.
  const annotations = section.section('request_annotations', { aliases: ['requestannotations'] });
  const notifyService = annotationKey(annotations, 'notify_service', DEFAULT_NOTIFY_SERVICE_ANNOTATION);
  const services = annotationKey(annotations, 'services', DEFAULT_SERVICES_ANNOTATION);

  const level = section.integer('on_call_max_escalation_level', { min: 1 });
  if (level !== undefined && (!Number.isInteger(level) || level < 1)) {
    throw section.error('on_call_max_escalation_level', 'a positive integer (1 = first responders only)');
  }

  const checkServices = (section.stringList('check_services') ?? []).map((s) => s.trim()).filter(Boolean);

  return {
    apiKey,
    userEmail,
    apiEndpoint: endpoint.toString().replace(/\/+$/, ''),
    annotations: { notifyService, services },
    onCallMaxEscalationLevel: level,
    checkServices,
  };
}

function annotationKey(section: ConfigSection, key: string, fallback: string): string {
  const value = (section.string(key, { default: fallback }) ?? fallback).trim();
  if (!value) throw section.error(key, `a request annotation name (default "${fallback}")`);
  return value;
}

/** `teleport-plugin configure --plugin pagerduty`: the `[pagerduty]` table, commented. */
export function exampleConfig(): string {
  return `# PagerDuty adapter for teleport-plugin (same keys as the Go teleport-pagerduty plugin).
# Opens an incident for each access request on the service named by the requester's role
# annotation, adds reviews as notes, resolves it when the request is decided or expires, and
# approves requests from users who are on call for the listed services.
[pagerduty]
# REST API key (PagerDuty: Integrations > API Access Keys). A value starting with "/" is read
# from that file.
api_key = "/var/lib/teleport/plugins/pagerduty/api-key"
# A PagerDuty user's email, sent as the From header: PagerDuty requires it for every write.
user_email = "teleport-bot@example.com"
# REST API base URL (tests and demos point it at a fake).
# api_endpoint = "https://api.pagerduty.com"
# Count only on-call shifts at this escalation level or lower for auto-approval
# (1 = first responders only). Default: any level.
# on_call_max_escalation_level = 1
# Extra service names \`teleport-plugin check\` should look up in PagerDuty. It already checks
# the names in every role's annotations when the plugin's role may list roles (role: list, read).
# check_services = ["Teleport Access Requests", "Production"]

# Which request annotations to read. Set them on the requester's role:
#   spec.allow.request.annotations:
#     pagerduty_notify_service: ["Teleport Access Requests"]   # incident goes here
#     pagerduty_services: ["Production", "Databases"]           # on call here = auto-approved
# Auto-approval also needs: the Teleport username is the user's PagerDuty email, and the
# plugin's role may review the requested roles (allow.review_requests.roles).
[pagerduty.request_annotations]
notify_service = "pagerduty_notify_service"
services = "pagerduty_services"
`;
}
