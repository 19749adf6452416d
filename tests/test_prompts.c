/* Prompts: each template's text for a class, p5's descriptions, every class at once, and
 * the errors (unknown template, p5 without descriptions, bad class index or name). The
 * expected strings are the texts of tests/golden/clip_tokens.tsv where it has them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffclip/text/prompts.h"

static int failures = 0;
static void expect(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  } else {
    printf("  ok   %s\n", what);
  }
}

static const char *names[] = {"Healthy grass", "Tree", "Parking lot 2"};
static const char *desc[] = {
    "Lawn grass, NDVI 0.52, height 18 cm, irrigated, smooth texture, high near-infrared "
    "reflectance, low LiDAR elevation.",
    "Tall woody vegetation with a high canopy in the LiDAR elevation.",
    "Asphalt parking with parked cars, low NIR reflectance."};

static int prompt_is(const char *tpl, int k, const char *want) {
  char *p = NULL;
  enum dc_status st = dc_prompt_make(tpl, names, desc, 3, k, &p);
  int ok = st == DC_OK && p && strcmp(p, want) == 0;
  if (!ok) fprintf(stderr, "  %s class %d: got \"%s\"\n  want \"%s\"\n", tpl, k, p ? p : "(none)", want);
  free(p);
  return ok;
}

int main(void) {
  printf("templates\n");
  expect(prompt_is("default", 0, "a multimodal fusion patch of a Healthy grass."), "default");
  expect(prompt_is("p1", 0, "a patch of a Healthy grass."), "p1");
  expect(prompt_is("p2", 1, "a nice patch of a Tree."), "p2");
  expect(prompt_is("p3", 1, "a fusion patch of a Tree."), "p3");
  expect(prompt_is("p4", 2, "a multimodal fusion patch of a Parking lot 2 with strong semantic information."),
         "p4");
  expect(prompt_is("p5", 0, desc[0]), "p5 is the class description, verbatim");

  printf("names and texts\n");
  int round = 1;
  for (int t = 0; t < DC_PROMPT_N_TEMPLATES; t++) {
    enum dc_prompt_template back;
    round &= dc_prompt_template_parse(dc_prompt_template_name((enum dc_prompt_template)t), &back) ==
                 DC_OK && (int)back == t;
  }
  expect(round, "every template's name parses back to it");
  expect(dc_prompt_template_text(DC_PROMPT_P5) == NULL &&
             strcmp(dc_prompt_template_text(DC_PROMPT_P1), "a patch of a {}.") == 0 &&
             dc_prompt_template_name(DC_PROMPT_N_TEMPLATES) == NULL,
         "template texts; out of range is NULL");

  printf("every class\n");
  char **all = NULL;
  expect(dc_prompts_make_all("p3", names, NULL, 3, &all) == DC_OK && all &&
             strcmp(all[2], "a fusion patch of a Parking lot 2.") == 0,
         "p3 for three classes without descriptions");
  dc_prompts_free(all, 3);

  printf("errors\n");
  char *p = (char *)"untouched";
  enum dc_prompt_template t;
  expect(dc_prompt_template_parse("p6", &t) == DC_ERR_ARG, "p6 is unknown");
  expect(dc_prompt_template_parse("Default", &t) == DC_ERR_ARG, "names are exact (\"Default\")");
  expect(dc_prompt_make("fancy", names, desc, 3, 0, &p) == DC_ERR_ARG && p == NULL,
         "dc_prompt_make with an unknown name");
  expect(dc_prompt_make("p5", names, NULL, 3, 1, &p) == DC_ERR_ARG && p == NULL,
         "p5 without descriptions");
  const char *holes[] = {"a", "", "c"};
  expect(dc_prompts_make_all("p5", names, holes, 3, &all) == DC_ERR_ARG && all == NULL,
         "p5 with an empty description");
  expect(dc_prompt_make("p1", names, desc, 3, 3, &p) == DC_ERR_ARG, "class index out of range");
  expect(dc_prompts_make_all("p1", holes, NULL, 3, &all) == DC_ERR_ARG && all == NULL,
         "an empty class name");
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
