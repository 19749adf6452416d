/* Internal to the manifest parser (manifest.c, manifest_scene.c, manifest_exams.c): the
 * key tables and the checked getters. Every failure goes through dc_mf_error, which names
 * the manifest file, the line and the key path. */
#ifndef DIFFCLIP_DATA_MANIFEST_SCHEMA_H
#define DIFFCLIP_DATA_MANIFEST_SCHEMA_H

#include <libconfig.h>

#include "diffclip/prepare/manifest.h"

enum dc_key_type { DC_KT_INT, DC_KT_STRING, DC_KT_BOOL, DC_KT_GROUP, DC_KT_LIST, DC_KT_INT_ARRAY, DC_KT_STRING_ARRAY };

struct dc_key_spec {
  const char *name; /* NULL ends a table */
  enum dc_key_type type;
  int required;
};

enum dc_status dc_mf_error(const struct dc_manifest *m, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Unknown keys, wrong types, missing required keys of group g. */
enum dc_status dc_mf_check_group(const struct dc_manifest *m, const config_setting_t *g, const struct dc_key_spec *spec);
/* Getters for keys already type-checked; a missing key yields the fallback. */
enum dc_status dc_mf_get_int(const struct dc_manifest *m, const config_setting_t *g, const char *key, long lo, long hi,
                             long fallback, long *out);
enum dc_status dc_mf_get_str(const struct dc_manifest *m, const config_setting_t *g, const char *key, char *out,
                             size_t len, const char *fallback);
int dc_mf_get_bool(const config_setting_t *g, const char *key, int fallback);

enum dc_status dc_manifest_parse_scene(struct dc_manifest *m, const config_setting_t *root);
enum dc_status dc_manifest_parse_exams(struct dc_manifest *m, const config_setting_t *exams);

#endif
