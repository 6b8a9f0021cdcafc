/* mixclient: placeholder while the command is being written. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "mixclient: not built yet\n");
    return 1;
}
