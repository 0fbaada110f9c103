/* The baseline of the `validate` process benchmark: the spawn, dynamic
   linking (libc) and exit of a C program that does nothing. */
int main(void) { return 0; }
