/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The schema, as an ordered list of migrations.  Migration i takes a
 * database from PRAGMA user_version i to i + 1 and runs in one
 * transaction together with the version bump, so a crash leaves either the
 * old or the new schema.  Never edit a migration that has shipped: append
 * a new one.
 *
 * Conventions: uint64 values (addresses, sizes) are stored as the INTEGER
 * with the same 64 bits, so anything at or above 2^63 reads back negative
 * in SQL but exact in C; enums are stored by their wire names so that the
 * file can be read with the sqlite3 shell; lists belong to child tables
 * keyed (owner, idx) so the order is kept.
 */
#include "db-private.h"
#include "db-schema.h"

/* v1: the inventory of the host device tree and the administrator's policy. */
static const char migration_1[] =
        /* dtb_sha256, tables_digest, scanned_at, model */
        "CREATE TABLE meta (\n"
        "        key TEXT PRIMARY KEY NOT NULL,\n"
        "        value TEXT\n"
        ");\n"
        "CREATE TABLE groups (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        why TEXT\n"
        ");\n"
        /* id is the device's index in the inventory, which groups refer to. */
        "CREATE TABLE devices (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        path TEXT NOT NULL UNIQUE,\n"
        "        node_name TEXT,\n"
        "        reg_note TEXT,\n"
        "        pci_host INTEGER NOT NULL CHECK (pci_host IN (0, 1)),\n"
        "        has_iommu_map_mask INTEGER NOT NULL CHECK (has_iommu_map_mask IN (0, 1)),\n"
        "        iommu_map_mask INTEGER NOT NULL,\n"
        "        is_interrupt_controller INTEGER NOT NULL CHECK (is_interrupt_controller IN (0, 1)),\n"
        "        is_iommu INTEGER NOT NULL CHECK (is_iommu IN (0, 1)),\n"
        "        is_xen_console INTEGER NOT NULL CHECK (is_xen_console IN (0, 1)),\n"
        "        xen_passthrough INTEGER NOT NULL CHECK (xen_passthrough IN (0, 1)),\n"
        "        is_gpio_controller INTEGER NOT NULL CHECK (is_gpio_controller IN (0, 1)),\n"
        "        is_memory INTEGER NOT NULL CHECK (is_memory IN (0, 1)),\n"
        "        coverage TEXT NOT NULL,\n"
        "        dma TEXT NOT NULL,\n"
        "        dma_source TEXT,\n"
        "        assignable INTEGER NOT NULL CHECK (assignable IN (0, 1)),\n"
        "        reason TEXT,\n"
        "        group_id INTEGER REFERENCES groups(id)\n"
        ");\n"
        "CREATE INDEX devices_group ON devices(group_id);\n"
        "CREATE TABLE device_compatible (\n"
        "        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        value TEXT NOT NULL,\n"
        "        PRIMARY KEY (device_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE regions (\n"
        "        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        base INTEGER NOT NULL,\n"
        "        size INTEGER NOT NULL,\n"
        "        PRIMARY KEY (device_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE interrupts (\n"
        "        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        class TEXT NOT NULL,\n"
        "        hwirq INTEGER NOT NULL,\n"
        "        type INTEGER NOT NULL,\n"
        "        controller TEXT,\n"
        "        PRIMARY KEY (device_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE iommus (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        path TEXT NOT NULL UNIQUE,\n"
        "        enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),\n"
        "        kind TEXT NOT NULL,\n"
        "        iommu_cells INTEGER NOT NULL\n"
        ");\n"
        "CREATE TABLE iommu_compatible (\n"
        "        iommu_id INTEGER NOT NULL REFERENCES iommus(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        value TEXT NOT NULL,\n"
        "        PRIMARY KEY (iommu_id, idx)\n"
        ") WITHOUT ROWID;\n"
        /* ids: JSON array of the specifiers' first cells. */
        "CREATE TABLE iommu_links (\n"
        "        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        iommu TEXT,\n"
        "        ids TEXT NOT NULL CHECK (json_valid(ids) AND json_type(ids) = 'array'),\n"
        "        PRIMARY KEY (device_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE iommu_map (\n"
        "        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        rid_base INTEGER NOT NULL,\n"
        "        iommu TEXT,\n"
        "        iommu_base INTEGER NOT NULL,\n"
        "        length INTEGER NOT NULL,\n"
        "        PRIMARY KEY (device_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE rid_gaps (\n"
        "        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        rid_base INTEGER NOT NULL,\n"
        "        count INTEGER NOT NULL,\n"
        "        PRIMARY KEY (device_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE group_members (\n"
        "        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,\n"
        "        PRIMARY KEY (group_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "CREATE INDEX group_members_device ON group_members(device_id);\n"
        /*
         * Keyed by path and deliberately not a foreign key to devices: the
         * administrator's word must survive a rescan in which the device
         * disappears for a while (a DTB overlay, a firmware update).
         */
        "CREATE TABLE policy (\n"
        "        path TEXT PRIMARY KEY NOT NULL,\n"
        "        dma TEXT,\n"
        "        assignable INTEGER CHECK (assignable IS NULL OR assignable IN (0, 1)),\n"
        "        note TEXT,\n"
        "        set_by_uid INTEGER NOT NULL,\n"
        "        set_at INTEGER NOT NULL,\n"
        "        CHECK (dma IS NOT NULL OR assignable IS NOT NULL)\n"
        ");\n";

/*
 * v2: leases (the owner of record of every device) and the audit log.
 *
 * One active lease per device is enforced by SQLite itself: lease_devices
 * carries an "active" copy of "the lease is not final", and a partial
 * UNIQUE index over the active rows makes a second holder a constraint
 * violation inside the same transaction that tries it, with no
 * check-then-insert race.  Triggers keep "active" in step with the lease
 * state whatever statement changes it: rows are inserted active only for a
 * non-final lease, a final state deactivates them, nothing reactivates
 * them, and a final lease cannot be revived (that would need the
 * uniqueness check again; make a new lease instead).
 */
static const char migration_2[] =
        "CREATE TABLE leases (\n"
        "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        domain_name TEXT,\n"
        "        domid INTEGER CHECK (domid IS NULL OR domid BETWEEN 0 AND 65535),\n"
        "        state TEXT NOT NULL CHECK (state IN\n"
        "                ('reserved', 'assigning', 'assigned', 'releasing', 'free', 'failed')),\n"
        "        target_state TEXT CHECK (target_state IS NULL OR target_state IN\n"
        "                ('reserved', 'assigning', 'assigned', 'releasing', 'free', 'failed')),\n"
        "        forced INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),\n"
        "        uid INTEGER NOT NULL,\n"
        "        pid INTEGER NOT NULL,\n"
        "        created_at INTEGER NOT NULL,\n"
        "        updated_at INTEGER NOT NULL,\n"
        "        expires_at INTEGER,\n"
        "        error TEXT,\n"
        "        plan TEXT CHECK (plan IS NULL OR json_valid(plan)),\n"
        "        options TEXT CHECK (options IS NULL OR json_valid(options)),\n"
        "        CHECK (domain_name IS NOT NULL OR domid IS NOT NULL)\n"
        ");\n"
        "CREATE INDEX leases_state ON leases(state);\n"
        "CREATE INDEX leases_domid ON leases(domid);\n"
        "CREATE TABLE lease_devices (\n"
        "        lease_id INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL,\n"
        "        path TEXT NOT NULL,\n"
        "        active INTEGER NOT NULL CHECK (active IN (0, 1)),\n"
        "        PRIMARY KEY (lease_id, idx),\n"
        "        UNIQUE (lease_id, path)\n"
        ") WITHOUT ROWID;\n"
        "CREATE UNIQUE INDEX lease_devices_one_owner ON lease_devices(path) WHERE active = 1;\n"
        "CREATE TRIGGER lease_devices_insert_active BEFORE INSERT ON lease_devices\n"
        "WHEN NEW.active IS NOT (SELECT state NOT IN ('free', 'failed') FROM leases\n"
        "                        WHERE id = NEW.lease_id)\n"
        "BEGIN\n"
        "        SELECT RAISE(ABORT, 'lease_devices.active must match the lease state');\n"
        "END;\n"
        "CREATE TRIGGER lease_devices_no_reactivation BEFORE UPDATE OF active ON lease_devices\n"
        "WHEN NEW.active = 1 AND OLD.active = 0\n"
        "BEGIN\n"
        "        SELECT RAISE(ABORT, 'a released lease device cannot be reactivated');\n"
        "END;\n"
        "CREATE TRIGGER leases_final_is_final BEFORE UPDATE OF state ON leases\n"
        "WHEN OLD.state IN ('free', 'failed') AND NEW.state NOT IN ('free', 'failed')\n"
        "BEGIN\n"
        "        SELECT RAISE(ABORT, 'a lease in a final state cannot be revived');\n"
        "END;\n"
        "CREATE TRIGGER leases_release_devices AFTER UPDATE OF state ON leases\n"
        "WHEN NEW.state IN ('free', 'failed')\n"
        "BEGIN\n"
        "        UPDATE lease_devices SET active = 0 WHERE lease_id = NEW.id AND active = 1;\n"
        "END;\n"
        "CREATE TABLE audit (\n"
        "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "        at INTEGER NOT NULL,\n"
        "        uid INTEGER NOT NULL,\n"
        "        pid INTEGER NOT NULL,\n"
        "        action TEXT NOT NULL,\n"
        "        target TEXT,\n"
        "        result TEXT NOT NULL,\n"
        "        detail TEXT,\n"
        "        severity TEXT NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'warning'))\n"
        ");\n";

/*
 * v3: dom0_hidden (dt.h): a device Xen wrote into dom0's tree as
 * "disabled".  Scanners before v3 skipped such nodes, so the stored digest
 * is dropped to make the next start rescan; policy rows are kept by path.
 */
static const char migration_3[] =
        "ALTER TABLE devices ADD COLUMN dom0_hidden INTEGER NOT NULL DEFAULT 0\n"
        "        CHECK (dom0_hidden IN (0, 1));\n"
        "DELETE FROM meta WHERE key = 'dtb_sha256';\n";

/*
 * v4: leases that outlive a domain, and leases found rather than granted.
 *
 * standing: a reservation dedicated to a domain name until cancelled; it
 * goes back to "reserved" (domid unbound) when its domain dies.
 * exclusive: whether it holds its devices while no domain of that name
 * runs.  origin: "request" (Assign, Reserve) or "adopted" (the hypervisor
 * showed a domain holding the device and no lease recorded it).
 *
 * A lease device is active (counted by the one-owner index) while the
 * lease holds it: not final, and exclusive or bound to a domid.  The v2
 * triggers allowed a device to be deactivated only; a non-exclusive
 * standing lease takes its devices back when its domain appears, so
 * "active" is now kept equal to that expression in both directions, and
 * taking a device back that another lease holds is the index's constraint
 * violation, in the same transaction as the binding.
 */
static const char migration_4[] =
        "ALTER TABLE leases ADD COLUMN standing INTEGER NOT NULL DEFAULT 0\n"
        "        CHECK (standing IN (0, 1));\n"
        "ALTER TABLE leases ADD COLUMN exclusive INTEGER NOT NULL DEFAULT 1\n"
        "        CHECK (exclusive IN (0, 1));\n"
        "ALTER TABLE leases ADD COLUMN origin TEXT NOT NULL DEFAULT 'request'\n"
        "        CHECK (origin IN ('request', 'adopted'));\n"
        "CREATE INDEX leases_domain_name ON leases(domain_name);\n"
        "DROP TRIGGER lease_devices_insert_active;\n"
        "DROP TRIGGER lease_devices_no_reactivation;\n"
        "DROP TRIGGER leases_release_devices;\n"
        "CREATE TRIGGER lease_devices_insert_active BEFORE INSERT ON lease_devices\n"
        "WHEN NEW.active IS NOT (SELECT state NOT IN ('free', 'failed')\n"
        "                               AND (exclusive = 1 OR domid IS NOT NULL)\n"
        "                        FROM leases WHERE id = NEW.lease_id)\n"
        "BEGIN\n"
        "        SELECT RAISE(ABORT, 'lease_devices.active must match the lease');\n"
        "END;\n"
        "CREATE TRIGGER lease_devices_active_follows_lease BEFORE UPDATE OF active ON lease_devices\n"
        "WHEN NEW.active IS NOT (SELECT state NOT IN ('free', 'failed')\n"
        "                               AND (exclusive = 1 OR domid IS NOT NULL)\n"
        "                        FROM leases WHERE id = NEW.lease_id)\n"
        "BEGIN\n"
        "        SELECT RAISE(ABORT, 'lease_devices.active must match the lease');\n"
        "END;\n"
        "CREATE TRIGGER leases_hold_devices AFTER UPDATE OF state, domid, exclusive ON leases\n"
        "BEGIN\n"
        "        UPDATE lease_devices\n"
        "        SET active = (NEW.state NOT IN ('free', 'failed')\n"
        "                      AND (NEW.exclusive = 1 OR NEW.domid IS NOT NULL))\n"
        "        WHERE lease_id = NEW.id\n"
        "          AND active IS NOT (NEW.state NOT IN ('free', 'failed')\n"
        "                             AND (NEW.exclusive = 1 OR NEW.domid IS NOT NULL));\n"
        "END;\n";

/*
 * v5: a device whose properties are inconsistent is recorded with its
 * fault (dt.h) instead of refusing the whole tree, and MSI controllers are
 * told apart; the classifier's verdicts changed with them (MSI and
 * interrupt infrastructure, memory-mapped timers, stream IDs an iommu-map
 * shares), so the stored digest is dropped to make the next start rescan.
 */
static const char migration_5[] =
        "ALTER TABLE devices ADD COLUMN fault TEXT;\n"
        "ALTER TABLE devices ADD COLUMN is_msi_controller INTEGER NOT NULL DEFAULT 0\n"
        "        CHECK (is_msi_controller IN (0, 1));\n"
        "DELETE FROM meta WHERE key = 'dtb_sha256';\n";

/*
 * v6: writes that do not grow with the history.
 *
 * The intent log records a step's progress as one small row, not as the
 * whole plan written again: lease_steps holds the flags of each step
 * changed since the plan's text was last written (a state change writes
 * the plan with every flag and drops them).
 *
 * Every query on leases and audit has an index, so nothing scans the
 * history (db/db-lease.c and db/db-audit.c list their statements; a unit
 * test asks SQLite for each one's plan): the leases not final (what every
 * request and domain event reads), the final ones by when they ended (what
 * retention deletes; leases_state, which led SQLite to read every final
 * lease for them, goes), a device's leases by path; an audit row's devices
 * (every word of its target that is a path, in audit_paths) and its lease
 * ("lease N ..." targets, in lease_id), its time.  Existing rows get them
 * here.
 *
 * A policy row may hold a note alone: SetDevicePolicy with only a note
 * used to answer ok and store nothing.
 */
static const char migration_6[] =
        "CREATE TABLE lease_steps (\n"
        "        lease_id INTEGER NOT NULL REFERENCES leases(id) ON DELETE CASCADE,\n"
        "        idx INTEGER NOT NULL CHECK (idx >= 0),\n"
        "        done INTEGER NOT NULL CHECK (done IN (0, 1)),\n"
        "        undone INTEGER NOT NULL CHECK (undone IN (0, 1)),\n"
        "        kept INTEGER NOT NULL CHECK (kept IN (0, 1)),\n"
        "        PRIMARY KEY (lease_id, idx)\n"
        ") WITHOUT ROWID;\n"
        "DROP INDEX leases_state;\n"
        "CREATE INDEX leases_live ON leases(id) WHERE state NOT IN ('free', 'failed');\n"
        "CREATE INDEX leases_final ON leases(updated_at) WHERE state IN ('free', 'failed');\n"
        "CREATE INDEX lease_devices_path ON lease_devices(path);\n"
        "ALTER TABLE audit ADD COLUMN lease_id INTEGER;\n"
        "CREATE INDEX audit_lease ON audit(lease_id) WHERE lease_id IS NOT NULL;\n"
        "CREATE INDEX audit_at ON audit(at);\n"
        "CREATE TABLE audit_paths (\n"
        "        path TEXT NOT NULL,\n"
        "        audit_id INTEGER NOT NULL REFERENCES audit(id) ON DELETE CASCADE,\n"
        "        PRIMARY KEY (path, audit_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE INDEX audit_paths_audit ON audit_paths(audit_id);\n"
        "UPDATE audit SET lease_id = CAST(substr(target, 7) AS INTEGER)\n"
        "WHERE target GLOB 'lease [0-9]*';\n"
        "WITH RECURSIVE words(id, word, rest) AS (\n"
        "        SELECT id, '', target || ' ' FROM audit WHERE target IS NOT NULL\n"
        "        UNION ALL\n"
        "        SELECT id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1)\n"
        "        FROM words WHERE rest <> ''\n"
        ")\n"
        "INSERT OR IGNORE INTO audit_paths (path, audit_id)\n"
        "SELECT word, id FROM words WHERE word GLOB '/*';\n"
        "CREATE TABLE policy_v6 (\n"
        "        path TEXT PRIMARY KEY NOT NULL,\n"
        "        dma TEXT,\n"
        "        assignable INTEGER CHECK (assignable IS NULL OR assignable IN (0, 1)),\n"
        "        note TEXT,\n"
        "        set_by_uid INTEGER NOT NULL,\n"
        "        set_at INTEGER NOT NULL,\n"
        "        CHECK (dma IS NOT NULL OR assignable IS NOT NULL OR note IS NOT NULL)\n"
        ");\n"
        "INSERT INTO policy_v6 (path, dma, assignable, note, set_by_uid, set_at)\n"
        "SELECT path, dma, assignable, note, set_by_uid, set_at FROM policy;\n"
        "DROP TABLE policy;\n"
        "ALTER TABLE policy_v6 RENAME TO policy;\n";

const char *const db_migrations[] = {
        migration_1,
        migration_2,
        migration_3,
        migration_4,
        migration_5,
        migration_6,
};
const size_t db_n_migrations = ARRAY_SIZE(db_migrations);

_Static_assert(ARRAY_SIZE(db_migrations) == DB_SCHEMA_VERSION,
               "DB_SCHEMA_VERSION must equal the number of migrations");
