/* A complete C99 program using cuclip: loads a model, builds a zero-shot classifier from labels,
 * and classifies the images given on the command line.
 *
 *   classify MODEL.cuclip "label one,label two,..." IMAGE...
 *
 * Prints one line per image: the path, the best label and its probability. Exit code 2 when an
 * image could not be classified (the others still are), 1 on other errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuclip.h"

int main(int argc, char ** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL \"label,label,...\" IMAGE...\n", argv[0]);
        return 1;
    }
    cuclip_model * model = NULL;
    if (cuclip_model_load(argv[1], cuclip_model_default_params(), &model) != CUCLIP_OK) {
        fprintf(stderr, "error: %s\n", cuclip_last_error());
        return 1;
    }
    cuclip_context_params cp = cuclip_context_default_params();
    cuclip_context * ctx = NULL;
    if (cuclip_context_create(model, cp, &ctx) != CUCLIP_OK) {
        fprintf(stderr, "error: %s\n", cuclip_last_error());
        cuclip_model_free(model);
        return 1;
    }

    /* Split the comma-separated labels (in place). */
    char * labels_text = argv[2];
    const char * labels[256];
    int n_labels = 0;
    for (char * tok = strtok(labels_text, ","); tok && n_labels < 256; tok = strtok(NULL, ",")) labels[n_labels++] = tok;

    cuclip_classifier * clf = NULL;
    /* templates == NULL: the model's own default templates. */
    if (cuclip_classifier_create(ctx, labels, n_labels, NULL, 0, &clf) != CUCLIP_OK) {
        fprintf(stderr, "error: %s\n", cuclip_last_error());
        cuclip_context_free(ctx);
        cuclip_model_free(model);
        return 1;
    }

    const int n_images = argc - 3;
    int * best = malloc(sizeof(int) * (size_t)n_images);
    float * probs = malloc(sizeof(float) * (size_t)n_images);
    cuclip_status * status = malloc(sizeof(cuclip_status) * (size_t)n_images);
    int rc = 0;
    if (!best || !probs || !status) {
        fprintf(stderr, "error: out of memory\n");
        rc = 1;
    } else {
        /* The best class of each image (k = 1); on a GPU only that comes back from the device. */
        cuclip_classify_image_files_top_k(clf, (const char * const *) (argv + 3), n_images, 1, best, probs, status);
        for (int i = 0; i < n_images; ++i) {
            if (status[i] != CUCLIP_OK) {
                fprintf(stderr, "%s: %s\n", argv[3 + i], cuclip_status_string(status[i]));
                rc = 2;
                continue;
            }
            printf("%s\t%s\t%.4f\n", argv[3 + i], labels[best[i]], probs[i]);
        }
    }
    free(best);
    free(probs);
    free(status);
    cuclip_classifier_free(clf);
    cuclip_context_free(ctx);
    cuclip_model_free(model);
    return rc;
}
