/* QR codes in the terminal; see qr_print.h. */
#include <qrencode.h>
#include <stdio.h>

#include "qr_print.h"

#define BLANK " "
#define LOWER "\342\226\204" /* U+2584 lower half block */
#define UPPER "\342\226\200" /* U+2580 upper half block */
#define FULL  "\342\226\210" /* U+2588 full block */

static void
light_rows(FILE *out, int width, int margin)
{
	/* Each line holds two rows of modules. */
	for (int y = 0; y < margin / 2; y++) {
		for (int x = 0; x < width + 2 * margin; x++)
			fputs(FULL, out);
		fputc('\n', out);
	}
}

int
adm_qr_print(FILE *out, const char *text, int margin)
{
	const unsigned char *top, *bottom;
	QRcode *qr;
	int w;

	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	if (qr == NULL)
		return -1;
	w = qr->width;
	light_rows(out, w, margin);
	for (int y = 0; y < w; y += 2) {
		top = qr->data + (size_t)y * (size_t)w;
		bottom = y + 1 < w ? top + w : NULL;
		for (int x = 0; x < margin; x++)
			fputs(FULL, out);
		for (int x = 0; x < w; x++) {
			int dark_top = top[x] & 1;
			int dark_bottom = bottom != NULL && (bottom[x] & 1);

			if (dark_top && dark_bottom)
				fputs(BLANK, out);
			else if (dark_top)
				fputs(LOWER, out);
			else if (dark_bottom)
				fputs(UPPER, out);
			else
				fputs(FULL, out);
		}
		for (int x = 0; x < margin; x++)
			fputs(FULL, out);
		fputc('\n', out);
	}
	light_rows(out, w, margin);
	QRcode_free(qr);
	return ferror(out) ? -1 : 0;
}
