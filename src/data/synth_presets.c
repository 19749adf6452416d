/* The synthetic presets: sizes, difficulty knobs and classes with their physical
 * descriptions (used as the p5 prompts). The knobs were tuned so that a nearest-class-mean
 * classifier on 5 shots per class stays clearly imperfect (docs/data.md). */
#include "synth_presets.h"

#define VEG MAT_VEGETATION

const struct synth_preset synth_presets[] = {
    {.name = "tiny",
     .summary = "32 x 40 pixels, 8 HSI bands + 1 LiDAR band, 4 classes (tests; well under a second)",
     .height = 32, .width = 40, .bands = 8, .n_classes = 4, .n_sites = 16, .min_labelled = 40,
     .warp = 0.5, .road_scale = 20, .mix_sigma = 0.8, .variability = 0.10, .variability_scale = 6,
     .illum = 0.08, .illum_scale = 16, .noise = 0.008, .background_weight = 0.15, .survey_threshold = -0.4,
     .train_fraction = 0.05, .ground_level = 200,
     .classes = {
         {"Grass", "Short mown grass and lawns: a green peak, a strong red edge and high near-infrared "
                   "reflectance, at ground level with a smooth surface.",
          VEG, 0.34, 0.06, 0.52, 1.0, 0.1, 0.05, 0.05, 0, 0, 0.30, 0},
         {"Trees", "Tree crowns: darker in the visible than grass, a high near-infrared plateau, standing "
                   "six to twelve metres tall with a rough, uneven canopy surface.",
          VEG, 0.40, 0.04, 0.515, 1.0, 8, 2, 1.5, 0, 0, 0.30, 0},
         {"Asphalt", "Asphalt and paved surfaces such as roads and parking lots: dark and nearly flat "
                     "reflectance in every band, at ground level and smooth.",
          MAT_ASPHALT, 0.07, 0.05, 0, 1.0, 0, 0.05, 0.05, 0, 0, 0.25, 0},
         {"Roofs", "Building roofs of concrete, tiles or metal: bright and spectrally flat without a red "
                   "edge, raised four to ten metres above the ground with flat tops.",
          MAT_ROOF, 0.20, 0.05, 0.35, 1.2, 6, 2, 0.15, 0, 0, 0.20, 0},
     },
     .background = {"background", "", MAT_SOIL, 0.14, 0.16, 0, 1.2, 1, 1, 0.5, 0, 0, 0, 0}},

    {.name = "demo",
     .summary = "64 x 96 pixels, 32 HSI bands + 1 LiDAR band, 5 classes (the built-in demo)",
     .height = 64, .width = 96, .bands = 32, .n_classes = 5, .n_sites = 22, .min_labelled = 60,
     .warp = 0.5, .road_scale = 28, .mix_sigma = 0.8, .variability = 0.05, .variability_scale = 8,
     .illum = 0.08, .illum_scale = 24, .noise = 0.008, .background_weight = 0.15, .survey_threshold = -0.3,
     .train_fraction = 0.05, .ground_level = 200,
     .classes = {
         {"Meadow", "Open meadow of grasses and herbs: a green peak, a sharp red edge and bright "
                    "near-infrared reflectance, at ground level with a smooth, even surface.",
          VEG, 0.33, 0.06, 0.525, 1.0, 0.2, 0.1, 0.1, 0, 0, 0.30, 0},
         {"Forest", "Closed forest canopy: dark visible bands and a high near-infrared plateau, with "
                    "crowns ten to twenty metres tall forming a rough, irregular surface.",
          VEG, 0.42, 0.04, 0.515, 1.0, 14, 3, 2.5, 0, 0, 0.30, 0},
         {"Bare soil", "Ploughed fields and bare earth: reflectance rising steadily from blue to "
                       "near-infrared with no red edge, lying at ground level and fairly smooth.",
          MAT_SOIL, 0.10, 0.22, 0, 1.0, 0, 0.1, 0.15, 0, 0, 0.20, 0},
         {"Buildings", "Houses and sheds with concrete, tile or metal roofs: bright and spectrally flat, "
                       "raised five to twelve metres above the ground with flat tops.",
          MAT_ROOF, 0.21, 0.05, 0.30, 1.2, 8, 3, 0.15, 0, 0, 0.20, 0},
         {"Roads", "Asphalt roads: dark, nearly flat reflectance in every band, long narrow curving "
                   "strips at ground level with a smooth surface.",
          MAT_ASPHALT, 0.07, 0.05, 0, 0.8, 0, 0.05, 0.05, 0, 0, 0.07, 1},
     },
     .background = {"background", "", MAT_SOIL, 0.14, 0.16, 0, 1.2, 1, 1, 0.5, 0, 0, 0, 0}},

    {.name = "trento-like",
     .summary = "166 x 600 pixels, 63 HSI bands + 1 LiDAR band, 6 classes with Trento's names",
     .height = 166, .width = 600, .bands = 63, .n_classes = 6, .n_sites = 70, .min_labelled = 300,
     .warp = 0.5, .road_scale = 60, .mix_sigma = 0.8, .variability = 0.035, .variability_scale = 10,
     .illum = 0.08, .illum_scale = 60, .noise = 0.008, .background_weight = 0.25, .survey_threshold = 0.0,
     .train_fraction = 0.05, .ground_level = 200,
     .classes = {
         {"Apple trees", "Orchards of apple trees about three to four metres tall planted in regular rows: "
                         "a strong red edge and near-infrared plateau, with striped row texture in height.",
          VEG, 0.37, 0.05, 0.52, 1.0, 3.5, 0.7, 0.4, 6, 0.8, 0.13, 0},
         {"Buildings", "Houses and farm buildings with concrete, tile or metal roofs: bright, spectrally "
                       "flat, no red edge, standing six to fifteen metres high with flat tops.",
          MAT_ROOF, 0.22, 0.06, 0.30, 1.2, 9, 3.5, 0.15, 0, 0, 0.10, 0},
         {"Ground", "Bare soil and dry earth between fields: reflectance rising steadily from blue to "
                    "near-infrared without a red edge, lying at ground level with a smooth surface.",
          MAT_SOIL, 0.12, 0.22, 0, 1.0, 0, 0.1, 0.1, 0, 0, 0.04, 0},
         {"Woods", "Dense broadleaf and conifer woods: dark visible bands and a high near-infrared "
                   "plateau, a tall canopy ten to twenty metres high with a rough, irregular surface.",
          VEG, 0.44, 0.04, 0.515, 0.9, 14, 3, 2.5, 0, 0, 0.30, 0},
         {"Vineyard", "Vineyards of low grapevines on trellises about one and a half metres high: a "
                      "vegetation red edge mixed with soil between the rows, and a fine striped texture.",
          VEG, 0.32, 0.06, 0.53, 1.0, 1.6, 0.3, 0.3, 4, 0.6, 0.35, 0},
         {"Roads", "Asphalt roads and paved tracks: dark, nearly flat reflectance across all bands, long "
                   "narrow curving strips at ground level with a smooth surface.",
          MAT_ASPHALT, 0.07, 0.05, 0, 0.8, 0, 0.05, 0.05, 0, 0, 0.07, 1},
     },
     .background = {"background", "", MAT_ROOF, 0.15, 0.04, 0.6, 1.2, 2, 2, 1.0, 0, 0, 0, 0}},
};

const int synth_n_presets = (int)(sizeof synth_presets / sizeof synth_presets[0]);
