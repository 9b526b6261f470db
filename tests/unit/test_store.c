/* The store (conf/store.h): migrations, reopen, newer-schema refusal, the generation
 * counter, every CRUD path and the snapshot it builds. Instances, leases and notifications
 * are in test_store_instance.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "store_target.h"
#include "conf/db.h"
#include "conf/store.h"

static char dir[256];
static char path[512]; /* the SQLite file, or the PostgreSQL URI (SX_TEST_PG) */
static int pg;

static char *sql_text(const char *target, const char *q) {
  sx_db *db;
  char err[256];
  char *out = NULL;
  if (sxdb_open(target, &db, err, sizeof err)) return NULL;
  sx_dbq *st = sxdb_prepare(db, q);
  if (st) {
    if (sxdb_step(st) == SXDB_ROW && sxdb_text(st, 0)) out = strdup(sxdb_text(st, 0));
    sxdb_finalize(st);
  }
  sxdb_close(db);
  return out;
}

static void test_open_migrate(void) {
  char err[1024];
  sx_store *s = NULL;
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_schema_version(s), SX_STORE_SCHEMA_VERSION, "fresh version");
  CHECK_INT(sx_store_generation(s), 0, "fresh generation");
  sx_policy_rec p;
  CHECK_INT(sx_store_policy_get(s, "global", &p, err, sizeof err), SX_ST_OK, "global exists");
  CHECK_INT(p.flags, 0, "global flags all false");
  CHECK_INT(p.scope, SX_SCOPE_GLOBAL, "global scope");
  CHECK_STR(p.description, "", "global description");
  sx_policy_rec_free(&p);
  CHECK_INT(sx_store_policy_new(s, "Keep", SX_POL_XMPP, "kept", err, sizeof err), SX_ST_OK, err);
  sx_store_close(s);

  if (!pg) {
    char *mode = sql_text(path, "PRAGMA journal_mode");
    CHECK_STR(mode, "wal", "WAL mode");
    free(mode);
  }
  char *ver = sql_text(path, "SELECT version FROM schema_version");
  char want[16];
  snprintf(want, sizeof want, "%d", SX_STORE_SCHEMA_VERSION);
  CHECK_STR(ver, want, "schema_version row");
  free(ver);

  /* reopen: nothing re-applied, data kept */
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_policy_get(s, "keep", &p, err, sizeof err), SX_ST_OK, "kept policy");
  CHECK_STR(p.name, "Keep", "stored name case");
  CHECK_STR(p.description, "kept", "kept description");
  sx_policy_rec_free(&p);
  CHECK_INT(sx_store_generation(s), 1, "generation kept");
  sx_store_close(s);

  /* a store at version 1 is migrated to the current version, data kept */
  CHECK_INT(store_sql(path, "DROP TABLE contacts; DROP TABLE admins; DROP TABLE instances;"
                      " DROP TABLE leases; UPDATE schema_version SET version = 1"),
            0, "downgrade");
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_schema_version(s), SX_STORE_SCHEMA_VERSION, "migrated from 1");
  CHECK_INT(sx_store_contact_add(s, "bob@contoso.com", "carol@fabrikam.com", NULL, err, sizeof err),
            SX_ST_OK, "contacts table after migration");
  CHECK_INT(sx_store_policy_get(s, "Keep", &p, err, sizeof err), SX_ST_OK, "data kept");
  sx_policy_rec_free(&p);
  CHECK_INT(sx_store_admin_passwd(s, "root", "correct horse", NULL, err, sizeof err), SX_ST_OK,
            "admin after migration");
  sx_store_close(s);

  /* a store at version 3 (the console's admins, no instances yet) is migrated, admins kept */
  CHECK_INT(store_sql(path, "DROP TABLE instances; DROP TABLE leases;"
                      " UPDATE schema_version SET version = 3"),
            0, "downgrade to 3");
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_schema_version(s), SX_STORE_SCHEMA_VERSION, "migrated from 3");
  CHECK_INT(sx_store_admin_verify(s, "root", "correct horse", err, sizeof err), SX_ST_OK,
            "admin kept across migration 4");
  CHECK_INT(sx_store_instance_beat(s, "a", "host", 1, NULL, 1000, err, sizeof err), SX_ST_OK,
            "instances table after migration 4");
  CHECK_INT(sx_store_instance_remove(s, "a", err, sizeof err), SX_ST_OK, "instance removed");
  sx_store_close(s);

  /* newer schema → refused with both versions named */
  CHECK_INT(store_sql(path, "UPDATE schema_version SET version = 99"), 0, "upgrade");
  s = NULL;
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_ERROR, "newer schema refused");
  CHECK(s == NULL, "no handle");
  char cur[16];
  snprintf(cur, sizeof cur, "(%d)", SX_STORE_SCHEMA_VERSION);
  CHECK(strstr(err, "schema version 99") && strstr(err, "newer") && strstr(err, cur) &&
            strstr(err, path),
        "newer message [%s]", err);
  char restore[64];
  snprintf(restore, sizeof restore, "UPDATE schema_version SET version = %d",
           SX_STORE_SCHEMA_VERSION);
  CHECK_INT(store_sql(path, restore), 0, "restore");
  if (pg) {
    /* not a sipxmpp store: a database with other tables */
    CHECK_INT(store_sql(path, "CREATE SCHEMA other; CREATE TABLE other.foo(x int)"), 0, "other schema");
    char other[600];
    snprintf(other, sizeof other, "%s?options=-csearch_path%%3Dother", path);
    CHECK_INT(sx_store_open(other, &s, err, sizeof err), SX_ST_ERROR, "foreign db refused");
    CHECK(strstr(err, "not a sipxmpp store") != NULL, "foreign message [%s]", err);
    CHECK_INT(store_sql(path, "DROP SCHEMA other CASCADE"), 0, "drop other");
    /* unreachable server, wrong database: refused with the target named, password hidden */
    CHECK_INT(sx_store_open("postgresql://sx:secret@127.0.0.1:1/sipxmpp", &s, err, sizeof err),
              SX_ST_ERROR, "unreachable server");
    CHECK(strstr(err, "127.0.0.1:1") && !strstr(err, "secret") && strstr(err, "sx:***@"),
          "unreachable message [%s]", err);
    CHECK_INT(sx_store_open("", &s, err, sizeof err), SX_ST_ERROR, "empty path");
    return;
  }

  /* not a sipxmpp store */
  char other[320];
  snprintf(other, sizeof other, "%s/other.db", dir);
  CHECK_INT(store_sql(other, "CREATE TABLE foo(x)"), 0, "other db");
  CHECK_INT(sx_store_open(other, &s, err, sizeof err), SX_ST_ERROR, "foreign db refused");
  CHECK(strstr(err, "not a sipxmpp store") != NULL, "foreign message [%s]", err);
  /* not a database */
  char junk[320];
  snprintf(junk, sizeof junk, "%s/junk.db", dir);
  FILE *f = fopen(junk, "w");
  fputs("this is not a database, just some text that is long enough to matter\n", f);
  for (int i = 0; i < 100; i++) fputs("more text more text more text\n", f);
  fclose(f);
  CHECK_INT(sx_store_open(junk, &s, err, sizeof err), SX_ST_ERROR, "junk refused");
  CHECK(strstr(err, junk) != NULL, "junk message names the file [%s]", err);
  /* missing directory: not created */
  char missing[320];
  snprintf(missing, sizeof missing, "%s/no/such/dir/s.db", dir);
  CHECK_INT(sx_store_open(missing, &s, err, sizeof err), SX_ST_ERROR, "missing dir");
  CHECK(strstr(err, "directory") != NULL, "missing dir message [%s]", err);
  CHECK_INT(sx_store_open("", &s, err, sizeof err), SX_ST_ERROR, "empty path");
}

static void test_generation(void) {
  char err[1024];
  sx_store *a, *b;
  CHECK_INT(sx_store_open(path, &a, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_open(path, &b, err, sizeof err), SX_ST_OK, err);
  int64_t g0 = sx_store_generation(a);
  CHECK(g0 >= 0, "generation readable");
  /* reads do not bump */
  sx_policy_rec *v;
  size_t n;
  CHECK_INT(sx_store_policy_list(a, &v, &n, err, sizeof err), SX_ST_OK, "list");
  sx_policy_list_free(v, n);
  sx_policy_snap *snap = sx_store_snapshot(a, err, sizeof err);
  CHECK(snap != NULL, "snapshot: %s", err);
  CHECK_INT(sx_snap_generation(snap), g0, "snapshot generation");
  sx_snap_free(snap);
  CHECK_INT(sx_store_generation(a), g0, "reads do not bump");
  /* a write through b is seen by a */
  CHECK_INT(sx_store_policy_set(b, "global", SX_POL_OUTSIDE, SX_POL_OUTSIDE, NULL, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_generation(a), g0 + 1, "other handle's write seen");
  /* failed writes do not bump */
  CHECK_INT(sx_store_policy_new(b, "global", 0, NULL, err, sizeof err), SX_ST_EXISTS, "global new");
  CHECK_INT(sx_store_policy_set(b, "nope", SX_POL_XMPP, 0, NULL, err, sizeof err), SX_ST_NOTFOUND,
            "set missing");
  CHECK_INT(sx_store_generation(a), g0 + 1, "failures do not bump");
  /* an explicit transaction: visible only after commit; rollback leaves nothing */
  CHECK_INT(sx_store_begin(b, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_user_add(b, "t1@contoso.com", NULL, NULL, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_user_add(b, "t1@contoso.com", NULL, NULL, err, sizeof err), SX_ST_EXISTS,
            "duplicate inside a transaction");
  CHECK_INT(sx_store_user_add(b, "t2@contoso.com", NULL, NULL, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_generation(a), g0 + 1, "not yet committed");
  CHECK_INT(sx_store_begin(b, err, sizeof err), SX_ST_ERROR, "nested begin refused");
  CHECK_INT(sx_store_commit(b, err, sizeof err), SX_ST_OK, err);
  CHECK(sx_store_generation(a) > g0 + 1, "committed transaction bumps");
  sx_user_rec u;
  CHECK_INT(sx_store_user_get(a, "t1@contoso.com", &u, err, sizeof err), SX_ST_OK, "t1 kept");
  sx_user_rec_free(&u);
  int64_t g1 = sx_store_generation(a);
  CHECK_INT(sx_store_begin(b, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_user_add(b, "t3@contoso.com", NULL, NULL, err, sizeof err), SX_ST_OK, err);
  sx_store_rollback(b);
  CHECK_INT(sx_store_user_get(a, "t3@contoso.com", &u, err, sizeof err), SX_ST_NOTFOUND,
            "rolled back");
  CHECK_INT(sx_store_generation(a), g1, "rollback leaves the generation");
  CHECK_INT(sx_store_user_remove(b, "t1@contoso.com", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_user_remove(b, "t2@contoso.com", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_policy_set(b, "global", SX_POL_OUTSIDE, 0, NULL, err, sizeof err), SX_ST_OK,
            err);
  sx_store_close(a);
  sx_store_close(b);
}

static void test_policies(sx_store *s) {
  char err[1024];
  CHECK_INT(sx_store_policy_new(s, "FedPic", SX_POL_XMPP | SX_POL_FEDERATION | SX_POL_PUBLIC_CLOUD,
                                "federation and public cloud", err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_policy_new(s, "fedpic", 0, NULL, err, sizeof err), SX_ST_EXISTS,
            "names are case-insensitive");
  CHECK_INT(sx_store_policy_new(s, "tag:Empty", 0, NULL, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_policy_new(s, "site:redmond", SX_POL_XMPP, NULL, err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(sx_store_policy_new(s, "bad name", 0, NULL, err, sizeof err), SX_ST_INVALID, "bad");
  CHECK(strstr(err, "bad name") != NULL, "bad name message [%s]", err);
  CHECK_INT(sx_store_policy_new(s, "Global", 0, NULL, err, sizeof err), SX_ST_EXISTS, "global");

  sx_policy_rec p;
  CHECK_INT(sx_store_policy_get(s, "empty", &p, err, sizeof err), SX_ST_OK, "tag: prefix dropped");
  CHECK_STR(p.name, "Empty", "name");
  CHECK_INT(p.flags, 0, "no flags");
  sx_policy_rec_free(&p);
  /* set: only the masked flags change; description optional */
  CHECK_INT(sx_store_policy_set(s, "Empty", SX_POL_OUTSIDE, SX_POL_OUTSIDE, "d", err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_policy_set(s, "FedPic", SX_POL_FEDERATION, 0, NULL, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_policy_get(s, "FedPic", &p, err, sizeof err), SX_ST_OK, "get");
  CHECK_INT(p.flags, SX_POL_XMPP | SX_POL_PUBLIC_CLOUD, "masked set");
  CHECK_STR(p.description, "federation and public cloud", "description unchanged");
  sx_policy_rec_free(&p);
  CHECK_INT(sx_store_policy_get(s, "nope", &p, err, sizeof err), SX_ST_NOTFOUND, "missing");

  /* list order: global, sites, tags */
  sx_policy_rec *v;
  size_t n;
  CHECK_INT(sx_store_policy_list(s, &v, &n, err, sizeof err), SX_ST_OK, err);
  CHECK(n >= 4, "list count %zu", n);
  if (n >= 4) {
    CHECK_STR(v[0].name, "global", "list[0]");
    CHECK_STR(v[1].name, "site:redmond", "list[1]");
    CHECK_INT(v[2].scope, SX_SCOPE_TAG, "list[2] tag");
  }
  sx_policy_list_free(v, n);

  /* grants */
  long changed = -1;
  CHECK_INT(sx_store_policy_grant(s, "FedPic", "bob@contoso.com", &changed, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(changed, 1, "grant adds the user");
  CHECK_INT(sx_store_policy_grant(s, "FedPic", "bob@contoso.com", &changed, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(changed, 0, "grant again: no change");
  CHECK_INT(sx_store_policy_grant(s, "site:redmond", "bob@contoso.com", NULL, err, sizeof err),
            SX_ST_INVALID, "site policies cannot be granted");
  CHECK(strstr(err, "--site") != NULL, "site grant message [%s]", err);
  CHECK_INT(sx_store_policy_grant(s, "global", "bob@contoso.com", NULL, err, sizeof err),
            SX_ST_INVALID, "global cannot be granted");
  CHECK_INT(sx_store_policy_grant(s, "Nope", "bob@contoso.com", NULL, err, sizeof err),
            SX_ST_INVALID, "unknown tag");
  CHECK(strstr(err, "policy new Nope") != NULL, "unknown tag hint [%s]", err);
  CHECK_INT(sx_store_policy_grant(s, NULL, "ghost@contoso.com", NULL, err, sizeof err),
            SX_ST_NOTFOUND, "ungrant unknown user");
  CHECK_INT(sx_store_user_add(s, "alice@contoso.com", "redmond", NULL, err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(sx_store_policy_grant(s, "Empty", NULL, &changed, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(changed, 2, "grant --all");
  CHECK_INT(sx_store_policy_get(s, "Empty", &p, err, sizeof err), SX_ST_OK, "get");
  CHECK_INT(p.users, 2, "granted count");
  sx_policy_rec_free(&p);
  CHECK_INT(sx_store_policy_get(s, "site:Redmond", &p, err, sizeof err), SX_ST_OK, "get site");
  CHECK_INT(p.users, 1, "site users");
  sx_policy_rec_free(&p);

  /* remove: global refused, in-use refused unless forced */
  CHECK_INT(sx_store_policy_remove(s, "global", 0, err, sizeof err), SX_ST_INVALID, "global");
  CHECK(strstr(err, "cannot be removed") != NULL, "global remove message [%s]", err);
  CHECK_INT(sx_store_policy_remove(s, "Empty", 0, err, sizeof err), SX_ST_INUSE, "in use");
  CHECK(strstr(err, "2 user(s)") && strstr(err, "--force"), "in-use message [%s]", err);
  CHECK_INT(sx_store_policy_remove(s, "Empty", 1, err, sizeof err), SX_ST_OK, err);
  sx_user_rec u;
  CHECK_INT(sx_store_user_get(s, "bob@contoso.com", &u, err, sizeof err), SX_ST_OK, "bob");
  CHECK(u.policy == NULL, "forced remove ungrants");
  sx_user_rec_free(&u);
  CHECK_INT(sx_store_policy_remove(s, "Empty", 0, err, sizeof err), SX_ST_NOTFOUND, "gone");
  CHECK_INT(sx_store_policy_new(s, "Tmp", 0, NULL, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_policy_remove(s, "tmp", 0, err, sizeof err), SX_ST_OK, "unused tag removed");
}

static void test_users(sx_store *s) {
  char err[1024];
  CHECK_INT(sx_store_policy_grant(s, "FedPic", "bob@contoso.com", NULL, err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(sx_store_user_add(s, "carl@contoso.com", "paris", "FedPic", err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(sx_store_user_add(s, "carl@contoso.com", NULL, NULL, err, sizeof err), SX_ST_EXISTS,
            "exists");
  CHECK_INT(sx_store_user_add(s, "dan@contoso.com", NULL, "site:redmond", err, sizeof err),
            SX_ST_INVALID, "site as grant");
  CHECK_INT(sx_store_user_add(s, "dan@contoso.com", "bad site!", NULL, err, sizeof err),
            SX_ST_INVALID, "bad site");
  CHECK_INT(sx_store_user_add(s, "no-at-sign", NULL, NULL, err, sizeof err), SX_ST_INVALID,
            "not a key");
  sx_user_rec u;
  /* set: NULL keeps, "" clears */
  CHECK_INT(sx_store_user_set(s, "carl@contoso.com", NULL, "", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_user_get(s, "carl@contoso.com", &u, err, sizeof err), SX_ST_OK, "get");
  CHECK_STR(u.site, "paris", "site kept");
  CHECK(u.policy == NULL, "policy cleared");
  sx_user_rec_free(&u);
  CHECK_INT(sx_store_user_set(s, "carl@contoso.com", "", "tag:fedpic", err, sizeof err), SX_ST_OK,
            err);
  CHECK_INT(sx_store_user_get(s, "carl@contoso.com", &u, err, sizeof err), SX_ST_OK, "get");
  CHECK(u.site == NULL, "site cleared");
  CHECK_STR(u.policy, "FedPic", "policy stored with the policy's own spelling");
  sx_user_rec_free(&u);
  CHECK_INT(sx_store_user_set(s, "ghost@contoso.com", "x", NULL, err, sizeof err), SX_ST_NOTFOUND,
            "set missing");
  int added = -1;
  CHECK_INT(sx_store_user_put(s, "erin@contoso.com", "redmond", NULL, &added, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(added, 1, "put new");
  CHECK_INT(sx_store_user_put(s, "erin@contoso.com", "paris", "FedPic", &added, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(added, 0, "put existing");
  sx_user_rec *v;
  size_t n;
  CHECK_INT(sx_store_user_list(s, "PARIS", NULL, &v, &n, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(n, 1, "site filter (case-insensitive)");
  if (n) CHECK_STR(v[0].key, "erin@contoso.com", "site filter");
  sx_user_list_free(v, n);
  CHECK_INT(sx_store_user_list(s, NULL, "fedpic", &v, &n, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(n, 3, "policy filter");
  sx_user_list_free(v, n);
  CHECK_INT(sx_store_user_list(s, NULL, NULL, &v, &n, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(n, 4, "all users");
  if (n == 4) {
    CHECK_STR(v[0].key, "alice@contoso.com", "sorted");
    CHECK_STR(v[3].key, "erin@contoso.com", "sorted");
  }
  sx_user_list_free(v, n);
  CHECK_INT(sx_store_user_remove(s, "erin@contoso.com", err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_user_remove(s, "erin@contoso.com", err, sizeof err), SX_ST_NOTFOUND, "again");
}

static void test_partners(sx_store *s) {
  char err[1024], warn[1024];
  sx_partner_rec p;
  /* defaults are valid with SPEC §5's warning */
  CHECK_INT(sx_partner_rec_init(&p, "Example.ORG."), 0, "init");
  CHECK_INT(p.type, SX_PT_PUBLIC_UNVERIFIED, "default type");
  CHECK_INT(p.tls, SX_NEGO_REQUIRED, "default tls");
  CHECK_INT(p.sasl, SX_NEGO_REQUIRED, "default sasl");
  CHECK_INT(p.dialback, 1, "default dialback");
  CHECK_INT(p.keepalive, 1, "default keepalive");
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_OK, err);
  CHECK(strstr(warn, "dialback can never be used") != NULL, "default warning [%s]", warn);
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_EXISTS, "again");
  sx_partner_rec_free(&p);

  /* a full partner */
  sx_partner_rec_init(&p, "fabrikam.com");
  p.type = SX_PT_FEDERATED;
  p.sasl = SX_NEGO_OPTIONAL;
  p.connection_limit = 10;
  p.keepalive = 0;
  p.proxy_fqdn = strdup("Edge.Fabrikam.com");
  free(p.description);
  p.description = strdup("Fabrikam");
  p.additional = calloc(2, sizeof(char *));
  p.additional[0] = strdup("IT.fabrikam.com");
  p.additional[1] = strdup("corp.fabrikam.com.");
  p.n_additional = 2;
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_OK, err);
  CHECK_STR(warn, "", "no warning");
  sx_partner_rec_free(&p);

  /* get by any domain, normalised */
  CHECK_INT(sx_store_partner_get(s, "CORP.Fabrikam.com", &p, err, sizeof err), SX_ST_OK, err);
  CHECK_STR(p.domain, "fabrikam.com", "primary");
  CHECK_INT(p.n_additional, 2, "additional count");
  if (p.n_additional == 2) {
    CHECK_STR(p.additional[0], "corp.fabrikam.com", "additional sorted, normalised");
    CHECK_STR(p.additional[1], "it.fabrikam.com", "additional 2");
  }
  CHECK_INT(p.type, SX_PT_FEDERATED, "type");
  CHECK_INT(p.sasl, SX_NEGO_OPTIONAL, "sasl");
  CHECK_INT(p.keepalive, 0, "keepalive");
  CHECK_INT(p.connection_limit, 10, "limit");
  CHECK_STR(p.proxy_fqdn, "edge.fabrikam.com", "proxy");
  CHECK_STR(p.description, "Fabrikam", "description");

  /* invalid change: nothing saved */
  int64_t g = sx_store_generation(s);
  p.dialback = 0;
  p.tls = SX_NEGO_NOT_SUPPORTED;
  p.sasl = SX_NEGO_NOT_SUPPORTED;
  CHECK_INT(sx_store_partner_update(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_INVALID,
            "invalid update");
  CHECK(strstr(err, "fabrikam.com") && strstr(err, "fix:"), "invalid message [%s]", err);
  CHECK_INT(sx_store_generation(s), g, "nothing saved");
  sx_partner_rec q;
  CHECK_INT(sx_store_partner_get(s, "fabrikam.com", &q, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(q.tls, SX_NEGO_REQUIRED, "tls unchanged");
  sx_partner_rec_free(&q);
  /* valid update replaces every field, including the domain list */
  p.tls = SX_NEGO_OPTIONAL;
  p.sasl = SX_NEGO_REQUIRED;
  p.dialback = 1;
  free(p.additional[1]);
  p.n_additional = 1;
  CHECK_INT(sx_store_partner_update(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_OK, err);
  CHECK(strstr(warn, "TlsNegotiation Optional") != NULL, "optional warning [%s]", warn);
  sx_partner_rec_free(&p);
  CHECK_INT(sx_store_partner_get(s, "it.fabrikam.com", &p, err, sizeof err), SX_ST_NOTFOUND,
            "removed additional domain");
  CHECK_INT(sx_store_partner_get(s, "corp.fabrikam.com", &p, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(p.tls, SX_NEGO_OPTIONAL, "updated tls");
  sx_partner_rec_free(&p);

  /* a domain belongs to one partner only */
  sx_partner_rec_init(&p, "corp.fabrikam.com");
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_INVALID,
            "primary that is someone's additional");
  CHECK(strstr(err, "additional domain of partner fabrikam.com") != NULL, "msg [%s]", err);
  sx_partner_rec_free(&p);
  sx_partner_rec_init(&p, "contoso-partner.com");
  p.additional = calloc(1, sizeof(char *));
  p.additional[0] = strdup("example.org");
  p.n_additional = 1;
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_INVALID,
            "additional that is someone's primary");
  CHECK(strstr(err, "belongs to partner example.org") != NULL, "msg [%s]", err);
  free(p.additional[0]);
  p.additional[0] = strdup("contoso-partner.com");
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_INVALID,
            "primary as additional");
  free(p.additional[0]);
  p.additional[0] = strdup("bad domain");
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_INVALID,
            "bad additional");
  sx_partner_rec_free(&p);
  sx_partner_rec_init(&p, "x@y");
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_INVALID,
            "bad primary");
  p.connection_limit = -1;
  free(p.domain);
  p.domain = strdup("ok.example");
  CHECK_INT(sx_store_partner_new(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_INVALID,
            "negative limit");
  sx_partner_rec_free(&p);
  sx_partner_rec_init(&p, "new.example");
  CHECK_INT(sx_store_partner_update(s, &p, warn, sizeof warn, err, sizeof err), SX_ST_NOTFOUND,
            "update missing");
  sx_partner_rec_free(&p);

  sx_partner_rec *v;
  size_t n;
  CHECK_INT(sx_store_partner_list(s, &v, &n, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(n, 2, "partner count");
  if (n == 2) {
    CHECK_STR(v[0].domain, "example.org", "sorted");
    CHECK_STR(v[1].domain, "fabrikam.com", "sorted");
    CHECK_INT(v[1].n_additional, 1, "list carries additional domains");
  }
  sx_partner_list_free(v, n);

  /* remove: an additional domain is refused with a hint */
  CHECK_INT(sx_store_partner_remove(s, "corp.fabrikam.com", err, sizeof err), SX_ST_INVALID,
            "remove additional");
  CHECK(strstr(err, "--remove-domain") != NULL, "remove hint [%s]", err);
  CHECK_INT(sx_store_partner_remove(s, "nothere.example", err, sizeof err), SX_ST_NOTFOUND, "none");
}

static void test_contacts(sx_store *s) {
  char err[1024];
  int pending = -1;
  int64_t gen = -1, g0 = sx_store_generation(s);
  const sx_rel pend_in = {SX_OUT_NONE, SX_IN_PENDING, 0, 0};
  CHECK_INT(sx_store_relation_put(s, "bob@contoso.com", "dave@example.org", pend_in, &gen, err,
                                  sizeof err),
            SX_ST_OK, err);
  CHECK_INT(gen, g0 + 1, "generation after the write");
  CHECK_INT(sx_store_generation(s), gen, "generation matches the store's");
  sx_contact_rec c;
  CHECK_INT(sx_store_contact_get(s, "bob@contoso.com", "dave@example.org", &c, err, sizeof err),
            SX_ST_OK, err);
  CHECK_STR(sx_rel_summary(c.rel), "pending_in", "pending state");
  CHECK_INT(c.rel.added, 0, "not added");
  sx_contact_rec_free(&c);
  /* the admin adds the contact: added only; the daemon approves the request */
  CHECK_INT(sx_store_contact_add(s, "bob@contoso.com", "dave@example.org", &pending, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(pending, 1, "a pending request waits");
  CHECK_INT(sx_store_contact_get(s, "bob@contoso.com", "dave@example.org", &c, err, sizeof err),
            SX_ST_OK, err);
  CHECK_STR(sx_rel_summary(c.rel), "added", "added state");
  CHECK_INT(c.rel.in, SX_IN_PENDING, "still pending in the store");
  CHECK(c.updated > 0, "updated time");
  sx_contact_rec_free(&c);
  const sx_rel approved = {SX_OUT_SUBSCRIBED, SX_IN_APPROVED, 1, 1 /* never stored */};
  CHECK_INT(sx_store_relation_put(s, "bob@contoso.com", "dave@example.org", approved, NULL, err,
                                  sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_contact_add(s, "bob@contoso.com", "dave@example.org", &pending, err, sizeof err),
            SX_ST_OK, "idempotent");
  CHECK_INT(pending, 0, "nothing pending the second time");
  CHECK_INT(sx_store_contact_get(s, "bob@contoso.com", "dave@example.org", &c, err, sizeof err),
            SX_ST_OK, err);
  CHECK(c.rel.out == SX_OUT_SUBSCRIBED && c.rel.in == SX_IN_APPROVED && c.rel.added &&
            !c.rel.suspended,
        "stored both ways, suspended not stored");
  sx_contact_rec_free(&c);
  /* an entry left with nothing disappears */
  const sx_rel pend_out = {SX_OUT_PENDING, SX_IN_NONE, 0, 0};
  CHECK_INT(sx_store_relation_put(s, "alice@contoso.com", "x@example.org", pend_out, NULL, err,
                                  sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_relation_put(s, "alice@contoso.com", "x@example.org", SX_REL_NONE, NULL, err,
                                  sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_contact_get(s, "alice@contoso.com", "x@example.org", &c, err, sizeof err),
            SX_ST_NOTFOUND, "empty entry deleted");
  CHECK_INT(sx_store_relation_put(s, "alice@contoso.com", "x@example.org", SX_REL_NONE, NULL, err,
                                  sizeof err),
            SX_ST_OK, "deleting an absent relation is fine");
  const sx_rel bad = {3, 0, 0, 0};
  CHECK_INT(sx_store_relation_put(s, "alice@contoso.com", "x@example.org", bad, NULL, err,
                                  sizeof err),
            SX_ST_INVALID, "bad state refused");
  CHECK_INT(sx_store_relation_put(s, "alice@contoso.com", "nodomain", pend_out, NULL, err,
                                  sizeof err),
            SX_ST_INVALID, "bad key refused");
  CHECK_INT(sx_store_contact_add(s, "alice@contoso.com", "carol@fabrikam.com", NULL, err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_contact_add(s, "alice@contoso.com", "nodomain", NULL, err, sizeof err),
            SX_ST_INVALID, "bad contact");
  sx_contact_rec *v;
  size_t n;
  CHECK_INT(sx_store_contact_list(s, "bob@contoso.com", &v, &n, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(n, 2, "bob's contacts"); /* carol from test_open_migrate, dave */
  sx_contact_list_free(v, n);
  CHECK_INT(sx_store_contact_list(s, NULL, &v, &n, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(n, 3, "all contacts");
  if (n == 3) {
    CHECK_STR(v[0].user, "alice@contoso.com", "sorted by user");
    CHECK_STR(v[1].contact, "carol@fabrikam.com", "then contact");
    CHECK_INT(v[2].rel.out, SX_OUT_SUBSCRIBED, "sub_out");
  }
  sx_contact_list_free(v, n);
  /* the snapshot carries every relation both ways */
  sx_policy_snap *snap = sx_store_snapshot(s, err, sizeof err);
  CHECK(snap != NULL, "snapshot: %s", err);
  if (snap) {
    CHECK_INT(sx_snap_relation_count(snap), 3, "relations in the snapshot");
    sx_rel r = sx_snap_relation(snap, "bob@contoso.com", "dave@example.org");
    CHECK(r.out == SX_OUT_SUBSCRIBED && r.in == SX_IN_APPROVED && r.added, "snapshot relation");
    r = sx_snap_relation(snap, "bob@contoso.com", "nobody@example.org");
    CHECK(sx_rel_is_empty(r), "absent relation is empty");
    const char *u = NULL, *ct = NULL;
    CHECK_INT(sx_snap_relation_at(snap, 3, &u, &ct, &r), -1, "out of range");
    CHECK_INT(sx_snap_relation_at(snap, 0, &u, &ct, &r), 0, "first");
    CHECK(u && ct, "keys");
    sx_snap_free(snap);
  }
  CHECK_INT(sx_store_contact_remove(s, "alice@contoso.com", "carol@fabrikam.com", err, sizeof err),
            SX_ST_OK, err);
  CHECK_INT(sx_store_contact_remove(s, "alice@contoso.com", "carol@fabrikam.com", err, sizeof err),
            SX_ST_NOTFOUND, "again");
}

/* The snapshot decides as the store says; grant / --none moves a user between scopes. */
static void test_snapshot(sx_store *s) {
  char err[1024], warn[1024];
  /* state here: global off; site:redmond on; FedPic (xmpp, public cloud) granted to bob and
   * carl; alice in redmond; partners example.org (PublicUnverified), fabrikam.com (Federated,
   * + corp.fabrikam.com); bob added dave@example.org. */
  sx_policy_snap *snap = sx_store_snapshot(s, err, sizeof err);
  CHECK(snap != NULL, "snapshot: %s", err);
  if (!snap) return;
  CHECK_INT(sx_snap_generation(snap), sx_store_generation(s), "snapshot generation");
  static const struct {
    const char *user, *dom, *ext;
    sx_pdir dir;
    sx_kind kind;
    const char *code, *policy;
  } rows[] = {
      {"bob@contoso.com", "corp.fabrikam.com", "x@corp.fabrikam.com", SX_DIR_OUT, SX_KIND_MESSAGE,
       "allowed", "FedPic"},
      {"alice@contoso.com", "fabrikam.com", "x@fabrikam.com", SX_DIR_IN, SX_KIND_MESSAGE, "allowed",
       "site:redmond"},
      {"zed@contoso.com", "fabrikam.com", "x@fabrikam.com", SX_DIR_OUT, SX_KIND_MESSAGE,
       "user_not_enabled", "global"},
      {"bob@contoso.com", "it.fabrikam.com", "x@it.fabrikam.com", SX_DIR_OUT, SX_KIND_MESSAGE,
       "not_partner", NULL},
      {"bob@contoso.com", "example.org", "dave@example.org", SX_DIR_IN, SX_KIND_MESSAGE, "allowed",
       "FedPic"},
      {"bob@contoso.com", "example.org", "erin@example.org", SX_DIR_IN, SX_KIND_MESSAGE,
       "not_in_contacts", "FedPic"},
      {"bob@contoso.com", "example.org", "erin@example.org", SX_DIR_IN, SX_KIND_SUBSCRIBE,
       "pending_contact", "FedPic"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    sx_decision d;
    char ctx[128];
    snprintf(ctx, sizeof ctx, "row %zu %s %s", i, rows[i].user, rows[i].ext);
    sx_decide(snap, rows[i].user, rows[i].dom, rows[i].ext, rows[i].dir, rows[i].kind, &d);
    CHECK_STR(d.reason_code, rows[i].code, ctx);
    CHECK_STR(d.policy_name, rows[i].policy, ctx);
  }
  sx_snap_free(snap);

  /* bob: tag → --none → site (after user set --site) → global */
  CHECK_INT(sx_store_user_set(s, "bob@contoso.com", "redmond", NULL, err, sizeof err), SX_ST_OK, err);
  CHECK_INT(sx_store_policy_set(s, "FedPic", SX_POL_XMPP, 0, NULL, err, sizeof err), SX_ST_OK, err);
  struct {
    const char *tag_action;
    const char *policy;
    const char *code;
  } steps[] = {{"keep", "FedPic", "user_not_enabled"},
               {"none", "site:redmond", "allowed"},
               {"nosite", "global", "user_not_enabled"},
               {"grant", "FedPic", "user_not_enabled"}};
  for (size_t i = 0; i < 4; i++) {
    if (strcmp(steps[i].tag_action, "none") == 0)
      CHECK_INT(sx_store_policy_grant(s, NULL, "bob@contoso.com", NULL, err, sizeof err), SX_ST_OK, err);
    if (strcmp(steps[i].tag_action, "nosite") == 0)
      CHECK_INT(sx_store_user_set(s, "bob@contoso.com", "", NULL, err, sizeof err), SX_ST_OK, err);
    if (strcmp(steps[i].tag_action, "grant") == 0)
      CHECK_INT(sx_store_policy_grant(s, "FedPic", "bob@contoso.com", NULL, err, sizeof err), SX_ST_OK, err);
    snap = sx_store_snapshot(s, err, sizeof err);
    sx_decision d;
    sx_decide(snap, "bob@contoso.com", "fabrikam.com", "x@fabrikam.com", SX_DIR_OUT,
              SX_KIND_MESSAGE, &d);
    CHECK_STR(d.policy_name, steps[i].policy, steps[i].tag_action);
    CHECK_STR(d.reason_code, steps[i].code, steps[i].tag_action);
    sx_snap_free(snap);
  }
  /* removing a partner takes effect in the next snapshot */
  CHECK_INT(sx_store_partner_remove(s, "fabrikam.com", err, sizeof err), SX_ST_OK, err);
  snap = sx_store_snapshot(s, err, sizeof err);
  sx_decision d;
  sx_decide(snap, "alice@contoso.com", "corp.fabrikam.com", NULL, SX_DIR_OUT, SX_KIND_MESSAGE, &d);
  CHECK_STR(d.reason_code, "not_partner", "partner removed, additional domain gone too");
  sx_snap_counts cnt;
  sx_snap_get_counts(snap, &cnt);
  CHECK_INT(cnt.partners, 1, "one partner left");
  CHECK_INT(cnt.domains, 1, "one domain left");
  sx_snap_free(snap);
  (void)warn;
}

/* With SX_TEST_PG set (tests/lib/pgcluster.py), every test runs on that PostgreSQL database
 * (emptied first); otherwise on an SQLite file in a temporary directory. */
int main(void) {
  if (store_target_setup("sx-test-store", "sipxmpp.db", dir, sizeof dir, path, sizeof path, &pg))
    return 1;
  test_open_migrate();
  test_generation();
  char err[1024];
  sx_store *s = NULL;
  CHECK_INT(sx_store_open(path, &s, err, sizeof err), SX_ST_OK, err);
  if (s) {
    test_policies(s);
    test_users(s);
    test_partners(s);
    test_contacts(s);
    test_snapshot(s);
    sx_store_close(s);
  }
  store_target_cleanup(dir);
  return check_done();
}
