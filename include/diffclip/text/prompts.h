/* Class prompts for the text encoder: the published default template, the paper's prompt
 * study p1-p5 (spec/MODEL.md, stage 2 step 3), chosen by name in the configuration.
 *
 *   default  "a multimodal fusion patch of a {}."
 *   p1       "a patch of a {}."
 *   p2       "a nice patch of a {}."
 *   p3       "a fusion patch of a {}."
 *   p4       "a multimodal fusion patch of a {} with strong semantic information."
 *   p5       the class's description from the dataset manifest, verbatim
 *
 * {} is the class name as the manifest spells it (the tokenizer lower-cases). */
#ifndef DIFFCLIP_PROMPTS_H
#define DIFFCLIP_PROMPTS_H

#include "diffclip/core/status.h"

enum dc_prompt_template {
  DC_PROMPT_DEFAULT = 0,
  DC_PROMPT_P1,
  DC_PROMPT_P2,
  DC_PROMPT_P3,
  DC_PROMPT_P4,
  DC_PROMPT_P5,
  DC_PROMPT_N_TEMPLATES
};

/* "default", "p1" .. "p5" -> the template; anything else is DC_ERR_ARG listing the names. */
enum dc_status dc_prompt_template_parse(const char *name, enum dc_prompt_template *out);
/* The template's name ("default", "p1", ...); NULL when out of range. */
const char *dc_prompt_template_name(enum dc_prompt_template t);
/* The template's text with "{}" where the class name goes; NULL for p5 (descriptions) and
 * when out of range. */
const char *dc_prompt_template_text(enum dc_prompt_template t);

/* The prompt of class k (0-based) of n_classes: *out is malloc'ed (free it).
 * class_names (n_classes) must be non-empty; descriptions (n_classes) may be NULL except
 * for p5, which needs a non-empty description for class k. */
enum dc_status dc_prompt_text(enum dc_prompt_template t, const char *const *class_names,
                              const char *const *descriptions, int n_classes, int k, char **out);
/* The same with the template given by name. */
enum dc_status dc_prompt_make(const char *template_name, const char *const *class_names,
                              const char *const *descriptions, int n_classes, int k, char **out);
/* Every class's prompt: *out (n_classes) of malloc'ed strings; free with dc_prompts_free. */
enum dc_status dc_prompts_make_all(const char *template_name, const char *const *class_names,
                                   const char *const *descriptions, int n_classes, char ***out);
void dc_prompts_free(char **prompts, int n);
/* A user's template with exactly one "{}" for the class name (finetune.template). */
enum dc_status dc_prompt_custom(const char *tmpl, const char *class_name, char **out);

#endif
