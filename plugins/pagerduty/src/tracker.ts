import {
  PluginError,
  TtlCache,
  followUpText,
  requestWebLink,
  type AccessRequest,
  type AdapterRouting,
  type ClusterInfo,
  type FollowUpNote,
  type Logger,
  type PluginData,
  type TicketNote,
  type TicketRef,
  type TicketTracker,
} from '@teleport-plugin/core';
import type { PagerDutyClient, PdService } from './client.js';
import type { PagerDutyConfig } from './config.js';
import { INCIDENT_ID_KEY, SERVICE_ID_KEY } from './pluginData.js';
import { incidentDetails, incidentKey, incidentTitle, resolutionNote, reviewNote } from './render.js';

/**
 * PagerDuty as the ticketing kit sees it: one incident per request on the service the request's
 * notify annotation names, a note per review, a closing note, then `resolved`. The incident key
 * (`teleport-access-request/<id>`) makes the incident findable after a crash, and PagerDuty itself
 * refuses a second open incident with the same key.
 */
export class PagerDutyTracker implements TicketTracker {
  readonly service = 'PagerDuty';
  /** Service name -> service (looked up by name for every request otherwise). */
  private readonly services = new TtlCache<PdService>({ max: 1_000, ttlMs: 10 * 60_000, negativeTtlMs: 30_000 });

  constructor(
    private readonly client: PagerDutyClient,
    private readonly config: PagerDutyConfig,
    private readonly cluster: ClusterInfo,
    /** Access Monitoring Rules naming `pagerduty` pick the service (the notify annotation is the fallback). */
    private readonly routing?: { routing: AdapterRouting; logger: Logger },
  ) {}

  serviceByName(name: string, signal?: AbortSignal): Promise<PdService | undefined> {
    return this.services.get(name.trim().toLowerCase(), () => this.client.findServiceByName(name, signal));
  }

  ticketOf(data: PluginData | undefined): TicketRef | undefined {
    const incident = data?.[INCIDENT_ID_KEY];
    return incident ? { [INCIDENT_ID_KEY]: incident, [SERVICE_ID_KEY]: data?.[SERVICE_ID_KEY] ?? '' } : undefined;
  }

  private notifyService(request: AccessRequest): string | undefined {
    return (request.systemAnnotations[this.config.annotations.notifyService] ?? [])[0]?.trim() || undefined;
  }

  /**
   * The service to open the incident on: the one matching rules name (exactly one, as upstream:
   * with several, the first is used and the others are named in a warning), else the request's
   * notify-service annotation.
   */
  async serviceFor(request: AccessRequest, signal?: AbortSignal): Promise<string | undefined> {
    if (this.routing) {
      const plan = await this.routing.routing.recipients(request, signal);
      if (plan.source === 'rules') {
        const [first, ...rest] = plan.recipients;
        if (rest.length > 0) {
          this.routing.logger.warn('Access Monitoring Rules name several PagerDuty services; an incident goes to one service, so the first is used', {
            requestId: request.id,
            used: first,
            ignored: rest.join(','),
            rules: plan.rules.map((r) => r.name).join(','),
          });
        }
        return first;
      }
    }
    return this.notifyService(request);
  }

  async wants(request: AccessRequest, signal?: AbortSignal): Promise<boolean> {
    return (await this.serviceFor(request, signal)) !== undefined;
  }

  async open(request: AccessRequest, signal?: AbortSignal): Promise<TicketRef> {
    const name = (await this.serviceFor(request, signal)) ?? '';
    const service = await this.serviceByName(name, signal);
    if (!service) {
      throw new PluginError('NOT_FOUND', `PagerDuty service "${name}" (request annotation ${this.config.annotations.notifyService}) does not exist`, {
        userFacing: true,
        details: { service: name },
      });
    }
    const incident = await this.client.createIncident(
      {
        title: incidentTitle(request),
        incidentKey: incidentKey(request.id),
        serviceId: service.id,
        details: incidentDetails(request, requestWebLink(this.cluster, request.id)),
      },
      signal,
    );
    return { [INCIDENT_ID_KEY]: incident.id, [SERVICE_ID_KEY]: service.id };
  }

  async find(request: AccessRequest, signal?: AbortSignal): Promise<TicketRef | undefined> {
    const incident = await this.client.findIncident(incidentKey(request.id), signal);
    return incident && { [INCIDENT_ID_KEY]: incident.id, [SERVICE_ID_KEY]: incident.serviceId };
  }

  async note(ticket: TicketRef, note: TicketNote, signal?: AbortSignal): Promise<void> {
    await this.client.addNote(ticket[INCIDENT_ID_KEY] ?? '', noteText(note), signal);
  }

  async findNote(ticket: TicketRef, note: TicketNote, signal?: AbortSignal): Promise<boolean> {
    // Compared without surrounding whitespace, in case PagerDuty trims what it stores.
    const wanted = noteText(note).trim();
    return (await this.client.listNotes(ticket[INCIDENT_ID_KEY] ?? '', signal)).some((n) => n.trim() === wanted);
  }

  async followUp(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal): Promise<void> {
    await this.client.addNote(ticket[INCIDENT_ID_KEY] ?? '', followUpText(note), signal);
  }

  async findFollowUp(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal): Promise<boolean> {
    const wanted = followUpText(note).trim();
    return (await this.client.listNotes(ticket[INCIDENT_ID_KEY] ?? '', signal)).some((n) => n.trim() === wanted);
  }

  async close(ticket: TicketRef, _outcome: unknown, signal?: AbortSignal): Promise<void> {
    await this.client.resolveIncident(ticket[INCIDENT_ID_KEY] ?? '', signal);
  }
}

function noteText(note: TicketNote): string {
  return note.kind === 'review' ? reviewNote(note.review) : resolutionNote(note.resolution.toLowerCase(), note.reason);
}
