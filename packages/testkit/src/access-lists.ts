import { notFound } from './teleport-error.js';

/** An Access List as the fake keeps it (only what review reminders read). */
export interface AccessListRecord {
  name: string;
  /** spec.title; '' sends no title. */
  title: string;
  /** '' (default, reviewable), 'dynamic', 'static' or 'scim'. */
  type: string;
  /** Owners named in the list (users). */
  owners: string[];
  /** Other lists whose members own this one (nested ownership, v17+). */
  ownerLists: string[];
  /** Users who are members (owners of lists that name this one as an owner list). */
  members: string[];
  /** spec.audit.next_audit_date; undefined sends none. */
  nextAuditDate?: Date;
  /** spec.audit.notifications.start in ms; undefined sends none. */
  notifyBeforeMs?: number;
  /** status.member_count; undefined sends no status (servers before v15). */
  memberCount?: number;
}

export interface AccessListInput {
  name: string;
  title?: string;
  type?: string;
  owners?: string[];
  ownerLists?: string[];
  members?: string[];
  nextAuditDate?: Date;
  notifyBeforeMs?: number;
  memberCount?: number;
}

/** The largest page ListAccessLists hands out (the server's default page size). */
export const MAX_ACCESS_LISTS_PAGE = 200;

/** Access Lists of the fake cluster, with upstream's paging and nested-owner flattening. */
export class AccessListStore {
  private readonly lists = new Map<string, AccessListRecord>();

  upsert(input: AccessListInput): AccessListRecord {
    const record: AccessListRecord = {
      name: input.name,
      title: input.title ?? input.name,
      type: input.type ?? '',
      owners: [...(input.owners ?? [])],
      ownerLists: [...(input.ownerLists ?? [])],
      members: [...(input.members ?? [])],
      ...(input.nextAuditDate ? { nextAuditDate: new Date(input.nextAuditDate) } : {}),
      ...(input.notifyBeforeMs !== undefined ? { notifyBeforeMs: input.notifyBeforeMs } : {}),
      ...(input.memberCount !== undefined ? { memberCount: input.memberCount } : {}),
    };
    this.lists.set(record.name, record);
    return structuredClone(record);
  }

  delete(name: string): void {
    if (!this.lists.delete(name)) throw notFound(`access_list "${name}" doesn't exist`);
  }

  get(name: string): AccessListRecord | undefined {
    const list = this.lists.get(name);
    return list ? structuredClone(list) : undefined;
  }

  /** Name order; the token is the name the next page starts at, '' after the last page. */
  page(pageSize: number, token: string): { lists: AccessListRecord[]; nextToken: string } {
    const size = pageSize > 0 ? Math.min(pageSize, MAX_ACCESS_LISTS_PAGE) : MAX_ACCESS_LISTS_PAGE;
    const names = [...this.lists.keys()].sort().filter((n) => n >= token);
    return { lists: names.slice(0, size).map((n) => this.lists.get(n)!), nextToken: names[size] ?? '' };
  }

  /**
   * GetAccessListOwners: the named owners plus the members of owner lists, walked recursively
   * (members of a member list count too), de-duplicated. NotFound for an unknown list.
   */
  owners(name: string): string[] {
    const list = this.lists.get(name);
    if (!list) throw notFound(`access_list "${name}" doesn't exist`);
    const out = new Set(list.owners);
    const seen = new Set<string>();
    const addMembers = (listName: string): void => {
      if (seen.has(listName)) return;
      seen.add(listName);
      const nested = this.lists.get(listName);
      if (!nested) return;
      for (const m of nested.members) {
        if (this.lists.has(m)) addMembers(m);
        else out.add(m);
      }
    };
    for (const ownerList of list.ownerLists) addMembers(ownerList);
    return [...out];
  }
}
