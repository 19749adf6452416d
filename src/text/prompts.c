/* Class prompts: the published default template, the paper's p1-p5, by name. */
#include "diffclip/text/prompts.h"

#include <stdlib.h>
#include <string.h>

static const struct {
  const char *name, *text; /* text NULL: the class description (p5) */
} k_templates[DC_PROMPT_N_TEMPLATES] = {
    [DC_PROMPT_DEFAULT] = {"default", "a multimodal fusion patch of a {}."},
    [DC_PROMPT_P1] = {"p1", "a patch of a {}."},
    [DC_PROMPT_P2] = {"p2", "a nice patch of a {}."},
    [DC_PROMPT_P3] = {"p3", "a fusion patch of a {}."},
    [DC_PROMPT_P4] = {"p4", "a multimodal fusion patch of a {} with strong semantic information."},
    [DC_PROMPT_P5] = {"p5", NULL},
};

static const char k_names[] = "default, p1, p2, p3, p4, p5";

enum dc_status dc_prompt_template_parse(const char *name, enum dc_prompt_template *out) {
  for (int t = 0; name && t < DC_PROMPT_N_TEMPLATES; t++) {
    if (strcmp(name, k_templates[t].name) == 0) {
      *out = (enum dc_prompt_template)t;
      return DC_OK;
    }
  }
  return DC_ERROR(DC_ERR_ARG, "prompt template \"%s\" is unknown (expected one of: %s)",
                  name ? name : "(null)", k_names);
}

const char *dc_prompt_template_name(enum dc_prompt_template t) {
  return (int)t >= 0 && t < DC_PROMPT_N_TEMPLATES ? k_templates[t].name : NULL;
}

const char *dc_prompt_template_text(enum dc_prompt_template t) {
  return (int)t >= 0 && t < DC_PROMPT_N_TEMPLATES ? k_templates[t].text : NULL;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s);
  char *c = malloc(n + 1);
  if (c) memcpy(c, s, n + 1);
  return c;
}

enum dc_status dc_prompt_text(enum dc_prompt_template t, const char *const *class_names,
                              const char *const *descriptions, int n_classes, int k, char **out) {
  *out = NULL;
  if ((int)t < 0 || t >= DC_PROMPT_N_TEMPLATES)
    return DC_ERROR(DC_ERR_ARG, "prompt template %d is out of range (expected 0..%d)", (int)t,
                    DC_PROMPT_N_TEMPLATES - 1);
  if (k < 0 || k >= n_classes)
    return DC_ERROR(DC_ERR_ARG, "class %d is out of range (expected 0..%d)", k, n_classes - 1);
  const char *name = class_names ? class_names[k] : NULL;
  if (!name || !name[0])
    return DC_ERROR(DC_ERR_ARG, "class %d has no name (expected a non-empty class name)", k);
  if (t == DC_PROMPT_P5) {
    const char *d = descriptions ? descriptions[k] : NULL;
    if (!d || !d[0])
      return DC_ERROR(DC_ERR_ARG, "prompt template p5 needs a description of class %d "
                      "(\"%s\"); the dataset manifest gives none", k, name);
    *out = dup_str(d);
    DC_CHECK_ALLOC(*out);
    return DC_OK;
  }
  const char *text = k_templates[t].text;
  const char *hole = strstr(text, "{}");
  size_t before = (size_t)(hole - text), len_name = strlen(name), after = strlen(hole + 2);
  char *p = malloc(before + len_name + after + 1);
  DC_CHECK_ALLOC(p);
  memcpy(p, text, before);
  memcpy(p + before, name, len_name);
  memcpy(p + before + len_name, hole + 2, after + 1);
  *out = p;
  return DC_OK;
}

enum dc_status dc_prompt_make(const char *template_name, const char *const *class_names,
                              const char *const *descriptions, int n_classes, int k, char **out) {
  *out = NULL;
  enum dc_prompt_template t = DC_PROMPT_DEFAULT;
  DC_TRY(dc_prompt_template_parse(template_name, &t));
  return dc_prompt_text(t, class_names, descriptions, n_classes, k, out);
}

void dc_prompts_free(char **prompts, int n) {
  if (!prompts) return;
  for (int i = 0; i < n; i++) free(prompts[i]);
  free(prompts);
}

enum dc_status dc_prompts_make_all(const char *template_name, const char *const *class_names,
                                   const char *const *descriptions, int n_classes, char ***out) {
  *out = NULL;
  enum dc_prompt_template t = DC_PROMPT_DEFAULT;
  DC_TRY(dc_prompt_template_parse(template_name, &t));
  if (n_classes < 1)
    return DC_ERROR(DC_ERR_ARG, "%d classes (expected at least one)", n_classes);
  char **v = calloc((size_t)n_classes, sizeof *v);
  DC_CHECK_ALLOC(v);
  for (int k = 0; k < n_classes; k++) {
    enum dc_status st = dc_prompt_text(t, class_names, descriptions, n_classes, k, &v[k]);
    if (st != DC_OK) {
      dc_prompts_free(v, n_classes);
      return st;
    }
  }
  *out = v;
  return DC_OK;
}

enum dc_status dc_prompt_custom(const char *tmpl, const char *class_name, char **out) {
  const char *hole = strstr(tmpl, "{}");
  if (!hole || strstr(hole + 2, "{}"))
    return DC_ERROR(DC_ERR_ARG, "finetune.template = \"%s\": expected exactly one {} for the class name", tmpl);
  size_t a = (size_t)(hole - tmpl), b = strlen(class_name), c = strlen(hole + 2);
  *out = malloc(a + b + c + 1);
  DC_CHECK_ALLOC(*out);
  memcpy(*out, tmpl, a);
  memcpy(*out + a, class_name, b);
  memcpy(*out + a + b, hole + 2, c + 1);
  return DC_OK;
}
