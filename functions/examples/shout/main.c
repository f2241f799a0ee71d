/* main.c - the `shout` function's bootstrap: a custom runtime (provided.al2023)
 * that serves every event with shout_handle until the Runtime API goes away.
 */
#include "lambda_runtime.h"
#include "shout.h"

int main(void)
{
    return lr_run(shout_handle, NULL);
}
