# cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P EmbedFile.cmake
# Writes a C file defining `const unsigned char SYMBOL[]` with INPUT's bytes, 8-byte aligned (a
# fatbin must be).
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUTPUT} "/* Generated from ${INPUT}. */\n__attribute__((aligned(8))) const unsigned char ${SYMBOL}[] = {${bytes}};\n")
