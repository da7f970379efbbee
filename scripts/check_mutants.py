#!/usr/bin/env python3
"""The test audit of issue 20, repeatable: each single-line mutant below once passed the whole
suite. For each, the source is changed, the test binary that should catch it is rebuilt, the
named tests are run and must fail; the source is put back whatever happens. Prints one line per
mutant and exits non-zero when a mutant survives.

    scripts/check_mutants.py [BUILD_DIR [WORDS]]   (default build, the release preset's
                                                  directory; WORDS: only mutants naming them)
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = sys.argv[1] if len(sys.argv) > 1 else 'build'

# (what it does, file, text, mutant text, test binary, gtest filter)
MUTANTS = [
    ('admin_only refuses everyone', 'src/server/auth.cc',
     'if (admin_only && session->role != records::Role::kAdmin)', 'if (admin_only)',
     'server_test', 'Hostile.WritesByPutAndDelete*:Api.AnAdminManages*'),
    ('is_write is POST only', 'src/server/auth.cc',
     'return req.method == "POST" || req.method == "PUT"', 'return req.method == "POST" || false',
     'server_test', 'Hostile.WritesByPutAndDelete*'),
    ('a newer SQLite store is not refused', 'src/records/store.cc',
     '        return fail(ok);\n    }\n    if (v > static_cast<int>(kMigrations.size()))',
     '        return fail(ok);\n    }\n    if (false)',
     'records_test', '*SchemaOne*/sqlite'),
    ('a newer PostgreSQL store is not refused', 'src/records/store.cc',
     '    const int v = schema_version();\n    if (v > static_cast<int>(kMigrations.size()))',
     '    const int v = schema_version();\n    if (false)',
     'records_test', '*SchemaOne*/postgresql'),
    ('migrations skip one step from a versioned store', 'src/records/store.cc',
     'for (std::size_t i = static_cast<std::size_t>(v); i < kMigrations.size(); ++i) {\n      if (auto ok = exec(',
     'for (std::size_t i = static_cast<std::size_t>(v) + (v > 0 ? 1 : 0); i < kMigrations.size(); ++i) {\n      if (auto ok = exec(',
     'records_test', '*SchemaOne*/sqlite'),
    ('a failing batch commits what it wrote (SQLite)', 'src/records/store.cc',
     '      if (auto ok = write(c); !ok) {\n        exec("ROLLBACK");\n        return ok;',
     '      if (auto ok = write(c); !ok) {\n        exec("COMMIT");\n        return ok;',
     'records_test', '*PartWay*/sqlite'),
    # (On PostgreSQL a COMMIT after a failed statement rolls back anyway: the mutant there is a
    # batch written outside one transaction.)
    ('a batch is not one transaction (PostgreSQL)', 'src/records/store.cc',
     'Result<void> put_all(const std::vector<Case>& cases) override {\n    if (auto ok = begin_write(); !ok) return ok;',
     'Result<void> put_all(const std::vector<Case>& cases) override {',
     'records_test', '*PartWay*/postgresql'),
    ('uploads are not counted as they arrive', 'src/server/server.cc',
     'if (received > options.max_upload_bytes) {', 'if (false) {',
     'server_test', 'Hostile.UploadsOverTheLimit*'),
    ('no 16 MB cap on JSON bodies', 'src/server/server.cc',
     '} else if (n > options.max_json_bytes) {',
     '} else if (n > options.max_json_bytes * 1000) {',
     'server_test', 'Hostile.JsonBodiesOver*'),
    ('the SOC window has no lower bound', 'src/diagnosis/hardcode.cc',
     'else if (*in.soc_low >= kSocLow && *in.soc_high <= kSocHigh)',
     'else if (*in.soc_high <= kSocHigh)',
     'diagnosis_test', 'Hardcode.AcceptableNotAcceptableOrWhatDecides'),
    ('the limit tolerance has no 10 % part', 'src/analysis/limit_analyzer.cc',
     'return std::max(L::kToleranceA, L::kToleranceShare * limit);',
     'return std::max(L::kToleranceA, 0 * limit);',
     'diagnosis_test', 'LimitFollowing.AtTwoHundred*'),
    ('a changed account keeps its sessions', 'src/server/server.cc',
     '    if (*result == 404) return send_error(res, 404, fmt::format("no user {}", name));\n    auth.end_sessions_of(name);',
     '    if (*result == 404) return send_error(res, 404, fmt::format("no user {}", name));',
     'server_test', 'Hostile.ADemotedAdmin*'),
    ('a technician replaces a case whole', 'src/server/server.cc',
     '      if (*stored) full = technician_update(records::case_to_json(**stored), *body);',
     '      if (false) full = technician_update(records::case_to_json(**stored), *body);',
     'server_test', 'Hostile.ATechnicianCannotEmpty*'),
]


def main():
    survivors = 0
    only = sys.argv[2] if len(sys.argv) > 2 else ''
    for what, path, text, mutant, binary, tests in MUTANTS:
        if only not in what:
            continue
        full = os.path.join(ROOT, path)
        original = open(full).read()
        if original.count(text) != 1:
            print('?? %-50s the text to change is not once in %s' % (what, path))
            survivors += 1
            continue
        try:
            open(full, 'w').write(original.replace(text, mutant))
            build = subprocess.run(['cmake', '--build', BUILD, '--target', binary],
                                   cwd=ROOT, capture_output=True, text=True)
            if build.returncode != 0:
                print('?? %-50s does not compile:\n%s' % (what, build.stdout[-2000:]))
                survivors += 1
                continue
            run = subprocess.run([os.path.join(ROOT, BUILD, binary), '--gtest_filter=' + tests],
                                 cwd=ROOT, capture_output=True, text=True, timeout=600)
            caught = run.returncode != 0
            print('%s %-50s %s' % ('caught  ' if caught else 'SURVIVED', what, tests))
            survivors += not caught
        finally:
            open(full, 'w').write(original)
    for binary in sorted({m[4] for m in MUTANTS}):
        subprocess.run(['cmake', '--build', BUILD, '--target', binary], cwd=ROOT,
                       capture_output=True)
    sys.exit(1 if survivors else 0)


if __name__ == '__main__':
    main()
